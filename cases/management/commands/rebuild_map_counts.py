"""`manage.py rebuild_map_counts`: the live map's open-case counts again from the cases."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from cases.mapcounts import rebuild_counts


class Command(BaseCommand):
    help = _("Rebuild the live map's counts and daily roll-up from the cases.")

    def handle(self, *args, **options) -> None:
        n = rebuild_counts()
        self.stdout.write(_("%(n)d open cases counted.") % {"n": n})
