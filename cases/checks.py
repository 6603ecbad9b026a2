"""System checks: a calendar year missing makes every public holiday a working day."""

from __future__ import annotations

from django.core.checks import Tags, Warning, register
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _


def calendar_warning(today=None) -> str | None:
    """The warning to give when this year's (or, from December, next year's) notice is missing."""
    from cases import calendar_sources
    from cases.calendar import CHINA

    today = today or timezone.now().astimezone(CHINA).date()
    year = calendar_sources.missing_year(today)
    if year is None:
        return None
    newest = calendar_sources.package_years()[-1]
    if year <= newest:
        how = _("Run manage.py load_calendar.")
    else:
        how = _(
            "The installed chinesecalendar carries the notices up to %(newest)d: upgrade it, "
            "or load the State Council's notice with manage.py load_calendar --file."
        ) % {"newest": newest}
    return _(
        "No public holidays are loaded for %(year)d: from 1 January they count as working "
        "days and deadlines will be wrong. %(how)s"
    ) % {"year": year, "how": how}


@register(Tags.database)
def check_calendar(app_configs=None, **kwargs):
    """Run with `manage.py check --database default` (and by migrate)."""
    try:
        message = calendar_warning()
    except DatabaseError:  # not migrated yet
        return []
    return [Warning(message, id="cases.W001")] if message else []
