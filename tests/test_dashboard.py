"""The leadership dashboard and its monthly report: who sees which unit, figures that
are the API's, the overdue list's urge, and the period picker."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from cases import services
from cases.models import Case, TimelineEntry
from frontend.dashboard import Period
from grid.models import Post, Role
from tests.base import POINT_B1, api, logged_in, make_user, report
from tests.test_metrics import close_on_site

ROOT = Path(__file__).resolve().parent.parent


def page_data(response) -> dict:
    """The figures a page hands to its charts (json_script #dashboard-data)."""
    html = response.content.decode()
    found = re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', html)
    assert found, "no chart data on the page"
    return json.loads(found.group(1))


def this_month() -> dict:
    period = Period.containing("month", timezone.localdate())
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


@pytest.fixture
def street_a_month(cast, territory):
    """A month of street A: closed, overdue, reopened and waiting cases; one in street B."""
    close_on_site(cast, report(cast.worker))
    late = report(cast.worker)
    services.deadline_sweep(now=late.step_due)
    sent_back = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=sent_back.number, route="onsite")
    services.case_handle(actor=cast.worker, number=sent_back.number, result="x")
    services.case_verify(actor=cast.worker2, number=sent_back.number, passed=False, note="未完成")
    report(cast.coordinator, point=(114.312, 30.558))  # community A2, awaiting triage
    hazard = report(cast.coordinator, code="0301", major_hazard=True)
    services.case_dispatch(actor=cast.coordinator, number=hazard.number, department=cast.department)
    b_case = report(cast.outsider, point=POINT_B1, description="徐家棚的案件")
    return {"late": late, "sent_back": sent_back, "b_case": b_case}


def test_it_shows_a_street_leader_their_streets_figures_exactly_as_the_api_gives_them(
    cast, territory, street_a_month
):
    response = logged_in(cast.leader).get("/dashboard/")
    assert response.status_code == 200
    data = page_data(response)
    assert data["unit"] == territory.street_a.name
    leader = api(cast.leader)
    for chart in ("communities", "departments"):
        group = chart[:-1] if chart == "departments" else "community"
        answer = leader.get("/api/v1/metrics/", this_month() | {"group": group}).json()
        # The department ranking leaves out the cases at no department.
        units = [u for u in answer["units"] if u["code"] or chart == "communities"]
        assert sorted(data[chart], key=lambda r: r["code"] or "") == sorted(
            units, key=lambda r: r["code"] or ""
        )
    assert [row["name"] for row in data["departments"]] == [cast.department.name]
    codes = {row["code"] for row in data["communities"]}
    assert codes == {territory.a1.code, territory.a2.code}  # nothing of street B
    street = leader.get("/api/v1/metrics/", this_month()).json()["units"][0]
    html = response.content.decode()
    assert f'data-figure="reported">{street["reported"]}<' in html
    assert street["reported"] == 5 and street["overdue"] == 1 and street["reopens"] == 1
    assert "徐家棚的案件" not in html and street_a_month["b_case"].number not in html


def test_the_lists_show_the_overdue_and_reopened_cases(cast, street_a_month):
    html = logged_in(cast.leader).get("/dashboard/").content.decode()
    overdue = html[html.index('id="overdue"') :]
    assert street_a_month["late"].number in overdue
    assert f"/cases/{street_a_month['late'].number}/urge/" in overdue
    reopened = overdue[overdue.index("</table>") :]
    assert street_a_month["sent_back"].number in reopened


def test_the_urge_button_urges_through_the_loop_and_comes_back_to_the_list(cast, street_a_month):
    late = street_a_month["late"]
    session = logged_in(cast.leader)
    html = session.get("/dashboard/").content.decode()
    task_id = re.search(
        rf'/cases/{late.number}/urge/".*?name="task_id" value="(\d+)"', html, re.S
    ).group(1)
    answer = session.post(
        f"/cases/{late.number}/urge/",
        {"task_id": task_id, "note": "今天必须办结", "next": "/dashboard/?period=month#overdue"},
    )
    assert answer.status_code == 302 and answer["Location"] == "/dashboard/?period=month#overdue"
    urged = TimelineEntry.objects.get(case=late, action="urged")
    assert (urged.actor, urged.note) == (cast.leader, "今天必须办结")
    assert Case.objects.get(pk=late.pk).supervised
    # A next that leads elsewhere is ignored: back to the case.
    away = session.post(
        f"/cases/{late.number}/urge/",
        {"task_id": task_id, "note": "再催", "next": "https://evil.example/"},
    )
    assert away["Location"] == f"/cases/{late.number}/"


def test_a_worker_is_refused_and_sees_no_link(cast, street_a_month):
    worker = logged_in(cast.worker)
    assert worker.get("/dashboard/").status_code == 403
    assert worker.get("/dashboard/report/").status_code == 403
    assert 'id="nav-dashboard"' not in worker.get("/").content.decode()
    assert 'id="nav-dashboard"' in logged_in(cast.coordinator).get("/").content.decode()
    anonymous = logged_in(cast.worker)
    anonymous.logout()
    assert anonymous.get("/dashboard/")["Location"].startswith("/login/")


def test_a_street_b_leader_sees_street_b_only(cast, territory, street_a_month):
    b_leader = make_user("b_leader")
    Post.objects.create(user=b_leader, role=Role.LEADER, street=territory.street_b)
    session = logged_in(b_leader)
    data = page_data(session.get("/dashboard/"))
    assert data["unit"] == territory.street_b.name
    assert {row["code"] for row in data["communities"]} == {territory.b1.code}
    assert session.get(f"/dashboard/?unit=street:{territory.street_a.pk}").status_code == 404
    report_b = session.get(f"/dashboard/report/?unit=street:{territory.street_a.pk}")
    assert report_b.status_code == 404


def test_a_district_administrator_sees_the_district_and_a_superuser_the_city(
    cast, territory, street_a_month
):
    admin = make_user("district_admin")
    Post.objects.create(user=admin, role=Role.ADMINISTRATOR, district=territory.district)
    data = page_data(logged_in(admin).get("/dashboard/"))
    assert data["unit"] == territory.district.name
    assert {row["code"] for row in data["communities"]} == {
        territory.a1.code,
        territory.a2.code,
        territory.b1.code,
    }
    city = logged_in(cast.admin)
    html = city.get("/dashboard/").content.decode()
    assert f'value="district:{territory.district.pk}"' in html
    assert 'data-figure="reported">6<' in html
    district = city.get(f"/dashboard/?unit=district:{territory.district.pk}")
    assert page_data(district)["unit"] == territory.district.name


def test_the_period_picker_takes_a_week_or_a_month_and_refuses_anything_else(cast, street_a_month):
    session = logged_in(cast.leader)
    today = timezone.localdate()
    week = page_data(session.get("/dashboard/", {"period": "week", "at": today.isoformat()}))
    monday = today - timedelta(days=today.weekday())
    assert week["trend"][-1]["code"] == monday.isoformat()
    assert week["trend"][-1]["reported"] == 5
    last_year = page_data(session.get("/dashboard/", {"at": f"{today.year - 1}-01"}))
    assert last_year["communities"] == [] and last_year["trend"] == []
    for bad in ({"period": "year"}, {"at": "yesterday"}, {"at": "1900-01-01"}):
        answer = session.get("/dashboard/", bad)
        assert answer.status_code == 400, bad
        assert answer.content.decode().strip()  # with its reason


def test_the_monthly_report_names_the_unit_and_the_month_in_chinese(
    client, cast, territory, street_a_month
):
    client.force_login(cast.leader)
    today = timezone.localdate()
    html = client.get("/dashboard/report/", {"at": f"{today.year}-{today.month:02d}"}).content
    html = html.decode()
    assert "网格化管理工作月报" in html
    assert f"{today.year}年{today.month}月" in html
    assert f'id="report-unit">{territory.street_a.name}<' in html
    for label in ("响应率", "解决率", "满意率", "超期案件", "各环节平均用时", "和平社区"):
        assert label in html, label
    assert street_a_month["late"].number in html
    assert "@media print" in (ROOT / "frontend/static/gridcase/dashboard.css").read_text()


def test_the_page_takes_the_same_number_of_queries_however_many_cases(
    cast, street_a_month, django_assert_max_num_queries
):
    session = logged_in(cast.leader)
    session.get("/dashboard/")  # territory and reference data cached, as on a running server
    # Five passes of cases.metrics (the unit, communities, departments, cells,
    # the trend) of ~7 grouped queries each, the lists and the page's own.
    with django_assert_max_num_queries(42) as few:
        session.get("/dashboard/")
    for _ in range(20):
        services.deadline_sweep(now=report(cast.worker).step_due)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = session.get("/dashboard/").content.decode()
    shown = int(re.search(r'data-figure="overdue" class="red">(\d+)<', html).group(1))
    street = api(cast.leader).get("/api/v1/metrics/", this_month()).json()["units"][0]
    assert shown == street["overdue"] > 20
