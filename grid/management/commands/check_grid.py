from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grid.gridcheck import check_grid


class Command(BaseCommand):
    help = (
        "Report overlapping cells, gaps, cells outside their community and bad cell codes "
        "for a district, street or community (default: everything); exit 1 if any."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", nargs="?", help="district, street or community code")

    def handle(self, *args, code, **options):
        try:
            problems = check_grid(code)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for problem in problems:
            self.stdout.write(f"{problem.kind}: {problem.message}")
        if problems:
            raise CommandError(_("%(n)d problem(s) found.") % {"n": len(problems)}, returncode=1)
        self.stdout.write(_("No problems found."))
