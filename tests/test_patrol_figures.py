"""What a leader sees of patrols: today's tracks on the live map and the per-worker table
for a hand-made week, with the right figures and nothing from outside the territory."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from cases import services as case_services
from cases.calendar import CHINA
from cases.models import Case
from frontend.dashboard import Period
from grid.models import CellAssignment, Post, Role
from patrols import services
from patrols.models import KeyPlace
from tests.base import logged_in, make_user, report

LON = 114.302


def fixes(start: datetime, lon: float = LON, lat0: float = 30.551, lat1: float = 30.560):
    """Ten positions a minute apart along a meridian: 1000.8 m when lat1 - lat0 = 0.009."""
    return [
        services.Fix(lon, lat0 + (lat1 - lat0) * i / 9, start + timedelta(minutes=i), 5.0)
        for i in range(10)
    ]


def walked(worker, client_id: str, start: datetime, **payload):
    points = payload.pop("points", None) or fixes(start)
    return services.record_patrol(
        worker=worker,
        payload=services.PatrolPayload(
            client_id=client_id,
            started_at=start,
            ended_at=start + timedelta(minutes=10),
            points=points,
            **payload,
        ),
    ).patrol


@pytest.fixture
def week(cast, territory):
    """This week (in China): worker patrols twice (a check-in, a case found on it) and
    handles two cases on site, one late; worker2 patrols once; street B's worker once;
    worker's patrol of last month is outside the week."""
    period = Period.containing("week", timezone.now().astimezone(CHINA).date())
    monday = period.start + timedelta(hours=9)
    gate = services.place_save(
        KeyPlace(name="实验小学南门", kind="school", point=Point(LON, 30.558, srid=4326))
    )
    b_worker = make_user("b_worker", first_name="孙乙网格")
    Post.objects.create(user=b_worker, role=Role.GRID_WORKER, community=territory.b1)
    CellAssignment.objects.create(worker=b_worker, cell=territory.cell("420106003001001"))
    found = report(cast.worker, client_id="case-on-patrol")
    walked(
        cast.worker,
        "w-1",
        monday,
        check_ins=[
            services.CheckInFix(gate.pk, services.Fix(LON, 30.5581, monday + timedelta(minutes=8)))
        ],
        cases=["case-on-patrol"],
    )
    walked(cast.worker, "w-2", monday + timedelta(hours=3))
    walked(cast.worker2, "w2-1", monday + timedelta(hours=1))
    walked(b_worker, "b-1", monday, points=fixes(monday, lat0=30.541, lat1=30.549))
    walked(cast.worker, "old", monday - timedelta(days=30))
    late = report(cast.worker)
    for case in (found, late):
        case_services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    Case.objects.filter(pk=late.pk).update(step_due=timezone.now() - timedelta(hours=1))
    for case in (found, late):
        case_services.case_handle(actor=cast.worker, number=case.number, result="已清理")
    return {"period": period, "monday": monday, "gate": gate, "b_worker": b_worker}


def table(user, period: Period, fmt: str = "") -> dict[str, list[str]]:
    query = {"period": "week", "at": period.first.isoformat()} | ({"format": fmt} if fmt else {})
    answer = logged_in(user).get("/patrols/workers/", query)
    assert answer.status_code == 200
    return answer


def test_the_worker_table_counts_the_week_for_each_worker(cast, week):
    rows = list(
        csv.reader(
            io.StringIO(table(cast.leader, week["period"], "csv").content.decode("utf-8-sig"))
        )
    )
    by_name = {r[0]: r[1:] for r in rows[1:]}
    # patrols, km, hours, cells, check-ins, found, handled on site, on time
    assert by_name["worker"] == ["2", "2.0", "0.3", "2", "1", "2", "2", "1"]
    assert by_name["worker2"] == ["1", "1.0", "0.2", "2", "0", "0", "0", "0"]
    assert by_name["合计"] == ["3", "3.0", "0.5", "", "1", "2", "2", "1"]
    assert "孙乙网格" not in by_name
    assert rows[0][0] == "网格员"  # the reader's language: zh-Hans by default


def test_the_table_page_lists_the_workers_with_a_total(cast, week):
    page = table(cast.leader, week["period"]).content.decode()
    assert f'data-worker="{cast.worker.pk}"' in page
    assert "孙乙网格" not in page
    assert 'id="csv"' in page


def test_street_bs_leader_sees_only_street_bs_worker(cast, territory, week):
    b_leader = make_user("b_leader")
    Post.objects.create(user=b_leader, role=Role.LEADER, street=territory.street_b)
    rows = list(
        csv.reader(io.StringIO(table(b_leader, week["period"], "csv").content.decode("utf-8-sig")))
    )
    assert [r[0] for r in rows[1:]] == ["孙乙网格", "合计"]
    assert rows[1][1:3] == ["1", "0.89"]  # 0.008° of latitude


def test_the_table_is_for_those_who_watch_a_street(cast):
    assert logged_in(cast.worker).get("/patrols/workers/").status_code == 403
    assert logged_in(cast.dispatcher).get("/patrols/workers/").status_code == 403


def test_a_bad_period_is_refused_with_the_reason(cast):
    answer = logged_in(cast.leader).get("/patrols/workers/", {"period": "year"})
    assert answer.status_code == 400
    assert "月或周" in answer.content.decode()  # "a month or a week", in zh-Hans


def test_the_map_layer_draws_the_days_patrols_in_the_territory(cast, week):
    day = week["monday"].date().isoformat()
    layer = logged_in(cast.leader).get("/map/patrols.json", {"date": day}).json()
    tracks = [f for f in layer["features"] if f["properties"]["kind"] == "patrol"]
    checks = [f for f in layer["features"] if f["properties"]["kind"] == "check_in"]
    assert sorted(f["properties"]["worker"] for f in tracks) == ["worker", "worker", "worker2"]
    assert all(f["geometry"]["type"] == "LineString" for f in tracks)
    assert tracks[0]["properties"]["length_m"] == pytest.approx(1000.8, abs=0.5)
    assert tracks[0]["properties"]["cells"] == ["420106002001001", "420106002001003"]
    assert [c["properties"]["place"] for c in checks] == ["实验小学南门"]
    other_day = (week["monday"] + timedelta(days=1)).date().isoformat()
    assert (
        logged_in(cast.leader).get("/map/patrols.json", {"date": other_day}).json()["features"]
        == []
    )


def test_street_b_sees_its_own_patrol_and_none_of_street_as(cast, week):
    day = week["monday"].date().isoformat()
    layer = logged_in(cast.outsider).get("/map/patrols.json", {"date": day}).json()
    assert [f["properties"]["worker"] for f in layer["features"]] == ["孙乙网格"]


def test_the_map_layer_refuses_a_bad_date(cast):
    answer = logged_in(cast.leader).get("/map/patrols.json", {"date": "12/01/2026"})
    assert answer.status_code == 400
    assert "YYYY-MM-DD" in answer.json()["error"]


def test_the_table_and_the_layer_take_a_bounded_number_of_queries(
    cast, week, django_assert_max_num_queries
):
    for n in range(10):
        walked(cast.worker2, f"more-{n}", week["monday"] + timedelta(minutes=20 * n + 200))
    session = logged_in(cast.leader)
    session.get("/patrols/workers/")  # the session and territory, read once
    with django_assert_max_num_queries(16):
        session.get("/patrols/workers/", {"period": "week", "at": week["period"].first.isoformat()})
    with django_assert_max_num_queries(8):
        session.get("/map/patrols.json", {"date": week["monday"].date().isoformat()})


def test_the_table_speaks_chinese_by_default_and_english_on_request(cast, week):
    session = logged_in(cast.leader)
    page = session.get("/patrols/workers/").content.decode()
    assert "网格员巡查统计" in page and "现场处置" in page and "合计" in page
    session.cookies["django_language"] = "en"
    page = session.get("/patrols/workers/").content.decode()
    assert "Patrols by worker" in page and "Handled on site" in page and "Total" in page


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_the_map_layer_refuses_a_date_out_of_range(cast, day):
    answer = logged_in(cast.leader).get("/map/patrols.json", {"date": day})
    assert answer.status_code == 400
    assert "2000" in answer.json()["error"]


def test_a_worker_who_moved_away_still_counts_where_they_worked_that_week(cast, territory, week):
    moved = make_user("moved", first_name="调走的网格员")
    post = Post.objects.create(user=moved, role=Role.GRID_WORKER, community=territory.a1)
    cell = CellAssignment.objects.create(worker=moved, cell=territory.cell("420106002001001"))
    case = report(moved)
    case_services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    case_services.case_handle(actor=moved, number=case.number, result="已处理")
    # Then moved to street B, without a patrol in street A this week.
    now = timezone.now()
    Post.objects.filter(pk=post.pk).update(ended=now)
    CellAssignment.objects.filter(pk=cell.pk).update(ended=now)
    CellAssignment.objects.create(worker=moved, cell=territory.cell("420106003001001"))
    rows = list(
        csv.reader(
            io.StringIO(table(cast.leader, week["period"], "csv").content.decode("utf-8-sig"))
        )
    )
    by_name = {r[0]: r[1:] for r in rows[1:]}
    # patrols, km, hours, cells, check-ins, found, handled on site, on time
    assert by_name["调走的网格员"] == ["0", "0.0", "0.0", "0", "0", "1", "1", "1"]
    assert by_name["合计"][4:] == ["1", "3", "3", "2"]


def test_a_worker_name_that_looks_like_a_formula_stays_text_in_the_csv(cast, week):
    cast.worker2.first_name = "=HYPERLINK(1)"
    cast.worker2.save()
    rows = list(
        csv.reader(
            io.StringIO(table(cast.leader, week["period"], "csv").content.decode("utf-8-sig"))
        )
    )
    names = [r[0] for r in rows[1:]]
    assert "'=HYPERLINK(1)" in names and "=HYPERLINK(1)" not in names
