from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grid.models import CellAssignment, Post, Role
from grid.staffing import StaffingError, tenure_end


class Command(BaseCommand):
    help = (
        "End a person's current cell assignments and posts (those named with --cell and "
        "--role, or all of them). Their claimed steps go back to whoever owns them now, "
        "and each end is written to the staffing log that leaders and administrators read."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--cell", action="append", default=[], help="a cell code (repeat)")
        parser.add_argument(
            "--role", action="append", default=[], choices=Role.values, help="a post's role"
        )
        parser.add_argument("--by", help="the username of who ends them (for the log)")

    def handle(self, *args, username, cell, role, by, **options):
        User = get_user_model()
        person = User.objects.filter(username=username).first()
        if person is None:
            raise CommandError(_("No user is called %(name)s.") % {"name": username})
        actor = User.objects.filter(username=by).first() if by else None
        if by and actor is None:
            raise CommandError(_("No user is called %(name)s.") % {"name": by})
        assignments = CellAssignment.objects.current().filter(worker=person)
        posts = Post.objects.current().filter(user=person)
        if cell or role:
            assignments = assignments.filter(cell__code__in=cell)
            posts = posts.filter(role__in=role)
        tenures = [*assignments.select_related("cell"), *posts]
        if not tenures:
            raise CommandError(_("%(name)s holds nothing like that now.") % {"name": username})
        for tenure in tenures:
            try:
                entry = tenure_end(actor=actor, tenure=tenure, via="command")
            except StaffingError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(_("Ended: %(what)s") % {"what": entry.what})
