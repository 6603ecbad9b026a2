"""The working-day calendar across a public holiday and a 调休 Saturday (seeded 2026 data)."""

from datetime import datetime

from cases.calendar import CHINA, add_limit
from cases.models import CalendarDay, LimitUnit


def at(*args) -> datetime:
    return datetime(*args, tzinfo=CHINA)


def test_working_days_skip_the_national_day_holiday(db):
    # Wed 30 Sep 10:00 + 1 working day: 1–7 October are off, Thu 8 October is the next.
    assert add_limit(at(2026, 9, 30, 10), 1, LimitUnit.WORKING_DAYS) == at(2026, 10, 8, 10)


def test_a_tiaoxiu_saturday_counts_as_a_working_day(db):
    # Fri 9 Oct 16:00 + 3 working hours: 2 h on Friday, then Saturday 10 October is a
    # make-up working day, so the third hour ends there at 10:00.
    assert add_limit(at(2026, 10, 9, 16), 3, LimitUnit.WORKING_HOURS) == at(2026, 10, 10, 10)


def test_without_the_tiaoxiu_the_same_limit_lands_on_monday(db):
    CalendarDay.objects.filter(day="2026-10-10").delete()
    assert add_limit(at(2026, 10, 9, 16), 3, LimitUnit.WORKING_HOURS) == at(2026, 10, 12, 10)


def test_working_hours_skip_the_lunch_break_and_the_qingming_weekend(db):
    # Fri 3 Apr 11:30 + 2 h: 30 min before lunch, 13:00–14:30 after it.
    assert add_limit(at(2026, 4, 3, 11, 30), 2, LimitUnit.WORKING_HOURS) == at(2026, 4, 3, 14, 30)
    # Fri 3 Apr 17:00 + 2 h: 1 h on Friday; 4–6 April is 清明, so Tuesday 09:00–10:00.
    assert add_limit(at(2026, 4, 3, 17), 2, LimitUnit.WORKING_HOURS) == at(2026, 4, 7, 10)


def test_a_report_made_on_a_holiday_starts_counting_on_the_next_working_day(db):
    assert add_limit(at(2026, 10, 3, 20), 2, LimitUnit.WORKING_HOURS) == at(2026, 10, 8, 11)


def test_emergency_hours_run_around_the_clock(db):
    assert add_limit(at(2026, 10, 1, 23), 2, LimitUnit.HOURS) == at(2026, 10, 2, 1)


def test_an_ordinary_weekend_is_not_working(db):
    # Fri 13 Nov 2026 12:00 + 1 working day ends Monday 16 Nov 12:00.
    assert add_limit(at(2026, 11, 13, 12), 1, LimitUnit.WORKING_DAYS) == at(2026, 11, 16, 12)


def test_office_hours_keep_a_moment_inside_them_and_move_one_outside_to_the_next(db):
    from cases.calendar import Calendar

    calendar = Calendar(at(2026, 11, 27, 0).date())
    assert calendar.in_office_hours(at(2026, 11, 27, 10, 30)) == at(2026, 11, 27, 10, 30)
    assert calendar.in_office_hours(at(2026, 11, 27, 12, 0)) == at(2026, 11, 27, 13, 0)
    assert calendar.in_office_hours(at(2026, 11, 27, 18, 30)) == at(2026, 11, 30, 9, 0)
