"""The working-day calendar deadlines are counted on.

China's week is Monday–Friday, changed by CalendarDay rows (cases.reference): public holidays
(not working) and 调休 make-up days (a weekend day that is working). Working
hours are 09:00–12:00 and 13:00–18:00 China time. Times in and out are aware
datetimes; arithmetic happens in Asia/Shanghai, which has no DST.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cases.models import LimitUnit
from cases.reference import calendar_days

CHINA = ZoneInfo("Asia/Shanghai")
WORK_PERIODS = ((time(9, 0), time(12, 0)), (time(13, 0), time(18, 0)))
# How far ahead exceptions are loaded; a limit longer than this is refused.
HORIZON_DAYS = 400


class Calendar:
    """Working days from a given date on, with the exceptions loaded once."""

    def __init__(self, start: date, days: int = HORIZON_DAYS):
        # Every exception, not just the horizon's: a few dozen rows a year, cached per process.
        self.exceptions: dict[date, bool] = calendar_days.get()
        self.end = start + timedelta(days=days)

    def is_workday(self, day: date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day]
        return day.weekday() < 5

    def _check(self, day: date) -> None:
        if day > self.end:
            raise ValueError("time limit reaches beyond the calendar horizon")

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """The moment `days` whole working days (24 h of working dates) after `start`."""
        remaining = timedelta(days=days)
        cursor = start.astimezone(CHINA)
        while True:
            self._check(cursor.date())
            midnight = datetime.combine(cursor.date() + timedelta(days=1), time(0), CHINA)
            if self.is_workday(cursor.date()):
                available = midnight - cursor
                if remaining <= available:
                    return cursor + remaining
                remaining -= available
            cursor = midnight

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of office time after `start`."""
        remaining = timedelta(hours=hours)
        cursor = start.astimezone(CHINA)
        while True:
            day = cursor.date()
            self._check(day)
            if self.is_workday(day):
                for begin, end in WORK_PERIODS:
                    period_start = datetime.combine(day, begin, CHINA)
                    period_end = datetime.combine(day, end, CHINA)
                    if cursor >= period_end:
                        continue
                    cursor = max(cursor, period_start)
                    available = period_end - cursor
                    if remaining <= available:
                        return cursor + remaining
                    remaining -= available
                    cursor = period_end
            cursor = datetime.combine(day + timedelta(days=1), time(0), CHINA)

    def in_office_hours(self, moment: datetime) -> datetime:
        """`moment` if it falls in working hours of a working day, else the next such moment."""
        return self.add_working_hours(moment, 0)

    def add(self, start: datetime, amount: float, unit: str) -> datetime:
        if unit == LimitUnit.HOURS:
            return start + timedelta(hours=amount)
        if unit == LimitUnit.WORKING_HOURS:
            return self.add_working_hours(start, amount)
        if unit == LimitUnit.WORKING_DAYS:
            return self.add_working_days(start, amount)
        raise ValueError(f"unknown time-limit unit {unit!r}")


def add_limit(start: datetime, amount: float, unit: str) -> datetime:
    return Calendar(start.astimezone(CHINA).date()).add(start, amount, unit)
