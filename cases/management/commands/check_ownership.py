"""`manage.py check_ownership`: every open case nobody in its chain can take now, and why."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from cases.services.ownership import stranded


class Command(BaseCommand):
    help = _("List open cases that nobody but a superuser could act on now; exit 1 if any.")

    def add_arguments(self, parser):
        parser.add_argument("--alert", action="store_true", help=_("also alert their streets"))

    def handle(self, *args, alert: bool, **options) -> None:
        found = stranded()
        for item in found:
            case = item.case
            self.stdout.write(f"{case.number}\t{case.get_state_display()}\t{item.reason}")
        if alert:
            from cases.services.ownership import alert_unowned

            alert_unowned()
        if found:
            raise CommandError(_("%(n)d open case(s) without an owner.") % {"n": len(found)})
        self.stdout.write(_("Every open case has an owner."))
