"""The calendar beyond 2026: loaded from the State Council's notices, edits kept, gaps warned."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from django.contrib.admin.sites import site
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import translation

from cases import calendar_sources, reference, services
from cases.admin import CalendarDayAdmin
from cases.calendar import CHINA, Calendar
from cases.checks import calendar_warning, check_calendar
from cases.models import CalendarDay
from cases.services import deadlines
from tests.base import report


def test_every_year_the_package_carries_is_loaded(db):
    years = calendar_sources.package_years()
    assert years[0] <= 2004 and years[-1] >= 2026
    CalendarDay.objects.all().delete()  # the migrations loaded them: start from none
    call_command("load_calendar", stdout=io.StringIO())
    loaded = calendar_sources.loaded_years()
    assert set(years) <= loaded
    assert not CalendarDay.objects.get(day=date(2025, 10, 1)).is_workday
    assert CalendarDay.objects.get(day=date(2025, 10, 1)).name == "国庆节"
    assert CalendarDay.objects.get(day=date(2026, 2, 28)).is_workday  # 春节调休, a Saturday
    reference.clear()
    assert not Calendar(date(2025, 9, 30)).is_workday(date(2025, 10, 2))


def test_a_day_an_administrator_edited_is_kept(admin_user):
    day = CalendarDay.objects.get(day=date(2026, 10, 7))
    day.is_workday, day.name = True, "街道值班"
    request = RequestFactory().post("/")
    request.user = admin_user
    CalendarDayAdmin(CalendarDay, site).save_model(request, day, form=None, change=True)
    output = io.StringIO()
    call_command("load_calendar", stdout=output)
    day.refresh_from_db()
    assert (day.is_workday, day.name, day.edited) == (True, "街道值班", True)
    assert "1 kept" in output.getvalue()


def test_a_newer_notice_is_loaded_from_a_file(db, tmp_path):
    notice = tmp_path / "2027.csv"
    notice.write_text("date,working,name\n2027-01-01,no,元旦\n2027-02-20,yes,春节调休\n")
    call_command("load_calendar", "--file", str(notice), stdout=io.StringIO())
    assert not CalendarDay.objects.get(day=date(2027, 1, 1)).is_workday
    assert CalendarDay.objects.get(day=date(2027, 2, 20)).is_workday
    bad = tmp_path / "bad.csv"
    bad.write_text("date,working,name\n2027-13-01,no,元旦\n")
    with pytest.raises(CommandError, match="line 2"):
        call_command("load_calendar", "--file", str(bad))
    twice = tmp_path / "twice.csv"
    twice.write_text("date,working,name\n2027-01-01,no,元旦\n2027-01-01,yes,调休\n")
    with pytest.raises(CommandError, match="line 3: 2027-01-01 is already on line 2"):
        call_command("load_calendar", "--file", str(twice))


def test_a_missing_next_year_is_warned_from_december(db):
    with translation.override("en"):
        assert calendar_warning(date(2026, 11, 30)) is None
        message = calendar_warning(date(2026, 12, 1))
    newest = calendar_sources.package_years()[-1]
    if newest >= 2027:
        pytest.skip("the installed chinesecalendar carries 2027: nothing is missing")
    assert "2027" in message and "--file" in message and str(newest) in message
    assert [w.id for w in check_calendar()] == ["cases.W001"]  # today is 2026-12-02
    CalendarDay.objects.create(day=date(2027, 1, 1), is_workday=False, name="元旦")
    assert calendar_warning(date(2026, 12, 1)) is None


def test_a_yellow_warning_falls_in_working_hours(cast):
    # On-site handling, 7 working days, from Friday 27 November 17:00. 80 % of it,
    # counted in whole working dates, ends on Monday 7 December at 07:24: before
    # anyone is at their desk, so the warning comes at 09:00. Due: Tuesday 17:00.
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    case.refresh_from_db()
    deadlines.start_clock(case, datetime(2026, 11, 27, 17, 0, tzinfo=CHINA))
    assert case.step_due.astimezone(CHINA) == datetime(2026, 12, 8, 17, 0, tzinfo=CHINA)
    assert case.step_warn_at.astimezone(CHINA) == datetime(2026, 12, 7, 9, 0, tzinfo=CHINA)
