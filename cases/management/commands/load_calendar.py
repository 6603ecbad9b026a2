"""`manage.py load_calendar [--file notice.csv]`: the State Council's holidays and 调休."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from cases import calendar_sources


class Command(BaseCommand):
    help = _(
        "Load every year's public holidays and 调休 working days that the installed "
        "chinesecalendar carries, or a year's notice from a CSV file. Days edited in "
        "the admin are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", type=Path, help=_("a notice as CSV: date,working (yes/no),name")
        )

    def handle(self, *args, file: Path | None, **options) -> None:
        try:
            days = calendar_sources.file_days(file) if file else calendar_sources.package_days()
        except calendar_sources.CalendarFileError as exc:
            raise CommandError(str(exc)) from None
        with transaction.atomic():
            result = calendar_sources.load(days)
        years = sorted({d.day.year for d in days})
        self.stdout.write(
            _(
                "Years %(first)s–%(last)s: %(created)d days added, %(changed)d changed, "
                "%(kept)d kept as an administrator edited them."
            )
            % {
                "first": years[0] if years else "-",
                "last": years[-1] if years else "-",
                "created": result.created,
                "changed": result.changed,
                "kept": result.kept,
            }
        )
        if not file:
            self.stdout.write(
                _(
                    "The installed chinesecalendar carries %(first)d–%(last)d; load a newer "
                    "notice with --file."
                )
                % {
                    "first": calendar_sources.package_years()[0],
                    "last": calendar_sources.package_years()[-1],
                }
            )
