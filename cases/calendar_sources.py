"""Where the holiday calendar comes from: the State Council's notices, year by year.

`chinesecalendar` (PyPI) carries every notice since 2004 as it is released;
a year it does not carry yet (the notice comes out in November or December)
can be loaded from a small file in the same shape (docs/case-loop.md):

    date,working,name
    2027-01-01,no,元旦
    2027-01-04,yes,元旦调休

`load_calendar` writes these into CalendarDay; days an administrator saved
(`edited`) are never changed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from chinese_calendar import constants

# The package's names are English; a street office reads Chinese.
CHINESE = {holiday.value: holiday.chinese for holiday in constants.Holiday}


@dataclass(frozen=True)
class Day:
    day: date
    is_workday: bool
    name: str


def package_days() -> list[Day]:
    """Every holiday and 调休 working day the installed chinesecalendar knows."""
    days = [Day(d, False, CHINESE.get(name, name)) for d, name in constants.holidays.items()]
    days += [
        Day(d, True, f"{CHINESE.get(name, name)}调休")
        for d, name in constants.workdays.items()
        if d.weekday() >= 5  # the package lists every working day's exception only at weekends
    ]
    return sorted(days, key=lambda d: d.day)


def package_years() -> list[int]:
    return sorted({d.year for d in constants.holidays})


class CalendarFileError(ValueError):
    """A calendar file that cannot be read; the message says which line and why."""


def file_days(path: Path) -> list[Day]:
    """A year's notice from a CSV file: date, working (yes/no), name."""
    days = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CalendarFileError(f"{path}: {exc.strerror}") from None
    rows = csv.DictReader(text.splitlines())
    if rows.fieldnames is None or not {"date", "working", "name"} <= set(rows.fieldnames):
        raise CalendarFileError(f"{path}: the first line must be: date,working,name")
    seen: dict[date, int] = {}
    for number, row in enumerate(rows, start=2):
        try:
            day = date.fromisoformat((row["date"] or "").strip())
        except ValueError:
            raise CalendarFileError(f"{path}, line {number}: {row['date']!r} is no date") from None
        if day in seen:
            raise CalendarFileError(f"{path}, line {number}: {day} is already on line {seen[day]}")
        seen[day] = number
        working = (row["working"] or "").strip().lower()
        if working not in ("yes", "no"):
            raise CalendarFileError(f"{path}, line {number}: working must be yes or no")
        days.append(Day(day, working == "yes", (row["name"] or "").strip()[:60]))
    return days


@dataclass
class Loaded:
    created: int = 0
    changed: int = 0
    kept: int = 0  # edited by an administrator, left as they are


def load(days: Iterable[Day], model=None) -> Loaded:
    """Write the days; never change one an administrator edited.

    `model` is CalendarDay, or a migration's historical one.
    """
    if model is None:
        from cases.models import CalendarDay as model

    CalendarDay = model  # noqa: N806
    result = Loaded()
    existing = {row.day: row for row in CalendarDay.objects.all()}
    for day in days:
        row = existing.get(day.day)
        if row is None:
            CalendarDay.objects.create(day=day.day, is_workday=day.is_workday, name=day.name)
            result.created += 1
        elif row.edited:
            result.kept += 1
        elif (row.is_workday, row.name) != (day.is_workday, day.name):
            row.is_workday, row.name = day.is_workday, day.name
            row.save(update_fields=["is_workday", "name"])
            result.changed += 1
    return result


def loaded_years() -> set[int]:
    from cases.models import CalendarDay

    return {d.year for d in CalendarDay.objects.values_list("day", flat=True)}


def missing_year(today: date) -> int | None:
    """The year whose notice is missing and matters now: this one, or from December the next."""
    years = loaded_years()
    if today.year not in years:
        return today.year
    if today.month == 12 and today.year + 1 not in years:
        return today.year + 1
    return None
