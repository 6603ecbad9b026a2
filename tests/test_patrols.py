"""Patrols (巡查) from the phone: recorded exactly once, measured on the ground, checked in
at key places, tied to the cases logged on them, refused with a reason and nothing written."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection, transaction

from cases.models import Case
from patrols import services
from patrols.geo import distance_m
from patrols.models import CheckIn, KeyPlace, Patrol, PatrolCase
from tests.base import api, at_once, body, build_cast, build_territory

START = datetime.fromisoformat("2026-12-01T09:00:00+08:00")
LON = 114.302  # a meridian through cells A1-003 (south) and A1-001 (north)


def walk(lat0: float = 30.551, lat1: float = 30.560, steps: int = 9, lon: float = LON):
    """Positions from lat0 north to lat1 along a meridian, one a minute."""
    return [
        {
            "lon": lon,
            "lat": round(lat0 + (lat1 - lat0) * i / steps, 7),
            "at": (START + timedelta(minutes=i)).isoformat(),
            "accuracy": 8.0,
        }
        for i in range(steps + 1)
    ]


def patrol(client_id: str = "patrol-1", **overrides) -> dict:
    points = overrides.pop("points", None) or walk()
    return {
        "client_id": client_id,
        "started_at": START.isoformat(),
        "ended_at": (START + timedelta(minutes=10)).isoformat(),
        "points": points,
    } | overrides


def place(name: str = "实验小学南门", lon: float = LON, lat: float = 30.558, **fields) -> KeyPlace:
    return services.place_save(
        KeyPlace(name=name, kind="school", point=Point(lon, lat, srid=4326), **fields)
    )


def check_in(p: KeyPlace, lat: float, minute: int = 5, **extra) -> dict:
    at = (START + timedelta(minutes=minute)).isoformat()
    return {"place": p.pk, "lon": LON, "lat": lat, "at": at} | extra


def test_a_walk_of_nine_thousandths_of_a_degree_north_is_a_kilometre(cast):
    answer = api(cast.worker).post("/api/v1/patrols/", patrol(), format="json")
    assert answer.status_code == 201, answer.json()
    got = answer.json()
    assert got["created"] is True
    assert got["length_m"] == pytest.approx(1000.8, abs=0.5)
    assert got["duration_s"] == 600
    assert got["cells"] == ["420106002001001", "420106002001003"]


def test_the_patrol_belongs_where_most_of_its_track_lies(cast, territory):
    # Seven of ten positions lie north of 30.555, in cell A1-001.
    client = api(cast.worker)
    client.post("/api/v1/patrols/", patrol(points=walk(30.553, 30.5575, 9)), format="json")
    stored = Patrol.objects.get()
    assert stored.cell.code == "420106002001001"
    assert (stored.community, stored.street) == (territory.a1, territory.street_a)


def test_inaccurate_positions_count_neither_in_the_track_nor_in_its_length(cast, settings):
    points = walk()
    # A fix 300 m off, with its accuracy saying so: the phone before the GPS settled.
    points[4] = points[4] | {"lon": LON + 0.003, "accuracy": 400.0}
    answer = api(cast.worker).post("/api/v1/patrols/", patrol(points=points), format="json")
    assert answer.json()["length_m"] == pytest.approx(1000.8, abs=0.5)
    assert len(Patrol.objects.get().track) == 9


def test_the_same_patrol_sent_twice_is_recorded_once_and_the_second_answer_says_so(cast):
    client = api(cast.worker)
    first = client.post("/api/v1/patrols/", patrol(), format="json")
    again = client.post("/api/v1/patrols/", patrol(), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["created"] is False
    assert again.json()["id"] == first.json()["id"]
    assert Patrol.objects.count() == 1


def test_someone_elses_client_id_is_refused(cast):
    api(cast.worker).post("/api/v1/patrols/", patrol(), format="json")
    refused = api(cast.worker2).post("/api/v1/patrols/", patrol(), format="json")
    assert refused.status_code == 400
    assert "someone else" in refused.json()["detail"]


def test_two_retries_arriving_at_once_make_exactly_one_patrol(reference_data):
    cast = build_cast(build_territory())
    payload = services.PatrolPayload(
        client_id="racing",
        started_at=START,
        ended_at=START + timedelta(minutes=10),
        points=[
            services.Fix(p["lon"], p["lat"], datetime.fromisoformat(p["at"]), p["accuracy"])
            for p in walk()
        ],
    )
    results = at_once(lambda: services.record_patrol(worker=cast.worker, payload=payload))
    assert len(results) == 2
    assert sorted(r.created for r in results) == [False, True]
    assert {r.patrol.pk for r in results} == {Patrol.objects.get().pk}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"points": walk(steps=1)[:1]}, "at least two positions"),
        ({"points": list(reversed(walk()))}, "not in time order"),
        ({"ended_at": (START + timedelta(minutes=3)).isoformat()}, "outside the patrol"),
        ({"ended_at": (START - timedelta(minutes=3)).isoformat()}, "ends before it starts"),
        ({"points": walk(30.541, 30.549)}, "outside your territory"),
        ({"points": [p | {"accuracy": 200.0} for p in walk()]}, "accurate to"),
        (
            {"check_ins": [{"place": 999, "lon": LON, "lat": 30.558, "at": START.isoformat()}]},
            "No active key place",
        ),
        ({"points": [{"lon": LON}]}, "required"),
    ],
)
def test_a_bad_patrol_is_refused_with_its_reason_and_writes_nothing(cast, change, reason):
    refused = api(cast.worker).post("/api/v1/patrols/", patrol(**change), format="json")
    assert refused.status_code == 400
    assert reason in refused.json()["detail"], refused.json()
    assert refused.json()["errors"]
    assert not Patrol.objects.exists()
    assert not CheckIn.objects.exists()


def test_too_many_positions_are_refused(cast, settings):
    settings.PATROL_MAX_POINTS = 5
    refused = api(cast.worker).post("/api/v1/patrols/", patrol(), format="json")
    assert refused.status_code == 400
    assert "at most 5 positions" in refused.json()["detail"]
    assert not Patrol.objects.exists()


def test_only_grid_workers_record_patrols(cast):
    refused = api(cast.dispatcher).post("/api/v1/patrols/", patrol(), format="json")
    assert refused.status_code == 403
    assert not Patrol.objects.exists()


def test_a_check_in_within_the_radius_counts_and_one_beyond_it_is_refused(cast):
    gate = place()
    client = api(cast.worker)
    # 0.0004° of latitude is 44.5 m: inside the 50 m default.
    near = patrol("near", check_ins=[check_in(gate, 30.5584)])
    assert client.post("/api/v1/patrols/", near, format="json").json()["check_ins"] == 1
    assert CheckIn.objects.get().distance_m == pytest.approx(44.5, abs=0.2)
    # 0.0006° is 66.7 m: too far, even with a fix claiming 10 m accuracy.
    far = patrol("far", check_ins=[check_in(gate, 30.5586, accuracy=10.0)])
    refused = client.post("/api/v1/patrols/", far, format="json")
    assert refused.status_code == 400
    assert "67 m away" in refused.json()["detail"]
    assert Patrol.objects.count() == 1


def test_a_place_may_set_its_own_radius_and_the_fixs_accuracy_is_allowed_for_up_to_it(cast):
    gate = place(check_in_radius_m=20)
    client = api(cast.worker)
    # 33 m away: within 20 m + the fix's 15 m, but not within 20 m + nothing.
    assert (
        client.post(
            "/api/v1/patrols/",
            patrol("a", check_ins=[check_in(gate, 30.5583, accuracy=15.0)]),
            format="json",
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/patrols/", patrol("b", check_ins=[check_in(gate, 30.5583)]), format="json"
        ).status_code
        == 400
    )


def test_the_setup_lists_active_key_places_of_the_workers_territory(cast):
    gate = place()
    hidden = place("铁机小学", lat=30.548)  # in street B
    place_off = place("停用的消防通道", lat=30.557, active=False)
    setup = api(cast.worker).get("/api/v1/patrols/setup/").json()
    assert setup["position_seconds"] == 30
    assert setup["check_in_radius_m"] == 50
    assert [p["id"] for p in setup["places"]] == [gate.pk]
    assert setup["places"][0]["cell"] == "420106002001001"
    assert setup["places"][0]["kind_label"] == "School"
    assert hidden.pk not in [p["id"] for p in setup["places"]]
    assert place_off.pk not in [p["id"] for p in setup["places"]]


def test_a_case_reported_before_its_patrol_arrives_is_linked_when_it_does(cast):
    client = api(cast.worker)
    case = client.post(
        "/api/v1/cases/", body(client_id="case-1", patrol="patrol-1"), format="multipart"
    ).json()
    recorded = client.post("/api/v1/patrols/", patrol(cases=["case-1"]), format="json").json()
    assert recorded["cases"] == [case["number"]]
    assert PatrolCase.objects.count() == 1


def test_a_case_reported_after_its_patrol_is_linked_too(cast):
    client = api(cast.worker)
    client.post("/api/v1/patrols/", patrol(cases=["case-1"]), format="json")
    case = client.post(
        "/api/v1/cases/", body(client_id="case-1", patrol="patrol-1"), format="multipart"
    ).json()
    client.post("/api/v1/cases/", body(client_id="case-1", patrol="patrol-1"), format="multipart")
    again = client.post("/api/v1/patrols/", patrol(), format="json").json()
    assert again["cases"] == [case["number"]]
    assert PatrolCase.objects.count() == 1


def test_a_report_naming_no_patrol_is_linked_by_the_patrol_that_names_it(cast):
    client = api(cast.worker)
    case = client.post("/api/v1/cases/", body(client_id="case-1"), format="multipart").json()
    recorded = client.post("/api/v1/patrols/", patrol(cases=["case-1"]), format="json").json()
    assert recorded["cases"] == [case["number"]]


def test_a_report_naming_someone_elses_patrol_is_refused_and_writes_nothing(cast):
    api(cast.worker2).post("/api/v1/patrols/", patrol(), format="json")
    refused = api(cast.worker).post(
        "/api/v1/cases/", body(client_id="case-1", patrol="patrol-1"), format="multipart"
    )
    assert refused.status_code == 400
    assert not Case.objects.exists()


def test_my_patrols_lists_mine_newest_first(cast):
    client = api(cast.worker)
    client.post("/api/v1/patrols/", patrol("early"), format="json")
    later = [
        p | {"at": (datetime.fromisoformat(p["at"]) + timedelta(hours=2)).isoformat()}
        for p in walk()
    ]
    client.post(
        "/api/v1/patrols/",
        patrol(
            "late",
            points=later,
            started_at=(START + timedelta(hours=2)).isoformat(),
            ended_at=(START + timedelta(hours=2, minutes=10)).isoformat(),
        ),
        format="json",
    )
    api(cast.worker2).post("/api/v1/patrols/", patrol("theirs"), format="json")
    mine = api(cast.worker).get("/api/v1/patrols/mine/").json()["results"]
    assert [p["client_id"] for p in mine] == ["late", "early"]


def test_the_haversine_agrees_with_a_known_distance():
    # Wuhan to Beijing Tiananmen, about 1,053 km on the great circle.
    assert distance_m(114.30, 30.59, 116.397, 39.908) == pytest.approx(1_053_000, rel=0.005)


def test_an_administrator_adds_a_key_place_and_its_cell_follows_from_the_point(client, cast):
    client.force_login(cast.admin)
    form = {"name": "和平里消防通道", "kind": "fire_exit", "active": "on", "check_in_radius_m": ""}
    point = '{"type": "Point", "coordinates": [114.302, 30.558]}'
    added = client.post("/admin/patrols/keyplace/add/", form | {"point": point})
    assert added.status_code == 302, added.content.decode()[:500]
    gate = KeyPlace.objects.get()
    assert (gate.cell.code, gate.community.code) == ("420106002001001", "420106002001")
    assert gate.radius_m == 50
    far = '{"type": "Point", "coordinates": [100.0, 20.0]}'
    refused = client.post("/admin/patrols/keyplace/add/", form | {"point": far})
    assert refused.status_code == 200
    assert "(100.000000, 20.000000)" in refused.content.decode()  # "lies outside the territory"
    assert KeyPlace.objects.count() == 1


def test_a_staff_member_cannot_add_a_key_place_in_another_street(client, cast):
    from django.contrib.auth.models import Permission

    cast.leader.is_staff = True
    cast.leader.save()
    cast.leader.user_permissions.add(Permission.objects.get(codename="add_keyplace"))
    client.force_login(cast.leader)
    form = {"name": "徐家棚小学", "kind": "school", "active": "on", "check_in_radius_m": ""}
    in_b = '{"type": "Point", "coordinates": [114.302, 30.548]}'
    refused = client.post("/admin/patrols/keyplace/add/", form | {"point": in_b})
    assert refused.status_code == 200
    assert "该点不在您的辖区内。" in refused.content.decode()
    assert not KeyPlace.objects.exists()
    in_a = '{"type": "Point", "coordinates": [114.302, 30.558]}'
    added = client.post("/admin/patrols/keyplace/add/", form | {"point": in_a})
    assert added.status_code == 302
    assert KeyPlace.objects.get().street.code == "420106002"


def test_the_admin_lists_a_staff_members_key_places_of_their_territory_only(client, cast):
    from django.contrib.auth.models import Permission

    place("A街道的学校")
    place("B街道的学校", lat=30.548)
    cast.leader.is_staff = True
    cast.leader.save()
    cast.leader.user_permissions.add(Permission.objects.get(codename="view_keyplace"))
    client.force_login(cast.leader)
    html = client.get("/admin/patrols/keyplace/").content.decode()
    assert "A街道的学校" in html
    assert "B街道的学校" not in html


def test_a_worker_who_stood_still_records_a_patrol_of_no_length(cast):
    still = [p | {"lat": 30.558} for p in walk()]
    answer = api(cast.worker).post("/api/v1/patrols/", patrol(points=still), format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["length_m"] == 0
    assert answer.json()["cells"] == ["420106002001001"]


def test_a_check_in_at_another_streets_key_place_is_refused_without_naming_it(cast):
    # Just across the street border, 44 m from where the worker stands in street A.
    theirs = place("徐家棚消防通道", lat=30.5498)
    near = check_in(theirs, 30.5502)
    refused = api(cast.worker).post("/api/v1/patrols/", patrol(check_ins=[near]), format="json")
    assert refused.status_code == 400
    assert "No active key place" in refused.json()["detail"]
    assert "徐家棚" not in refused.content.decode()
    assert not Patrol.objects.exists()


def shifted(by: timedelta) -> dict:
    """The whole patrol moved in time by `by`."""
    return {
        "started_at": (START + by).isoformat(),
        "ended_at": (START + by + timedelta(minutes=10)).isoformat(),
        "points": [p | {"at": (datetime.fromisoformat(p["at"]) + by).isoformat()} for p in walk()],
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        # Forgotten for 127 years: once a 500 on PostgreSQL (duration_s out of range).
        ({"started_at": "1900-01-01T09:00:00+08:00"}, "at most 24 hours"),
        ({"started_at": (START - timedelta(hours=25)).isoformat()}, "at most 24 hours"),
        (shifted(timedelta(days=3650)), "phone's clock"),
        (shifted(-timedelta(days=365 * 30)), "phone's clock"),
    ],
)
def test_a_patrol_of_impossible_times_is_refused_and_writes_nothing(cast, change, reason):
    refused = api(cast.worker).post("/api/v1/patrols/", patrol(**change), format="json")
    assert refused.status_code == 400
    assert reason in refused.json()["detail"], refused.json()
    assert not Patrol.objects.exists()


def _payload(client_id: str = "patrol-1", cases: tuple[str, ...] = ()) -> services.PatrolPayload:
    return services.PatrolPayload(
        client_id=client_id,
        started_at=START,
        ended_at=START + timedelta(minutes=10),
        points=[
            services.Fix(p["lon"], p["lat"], datetime.fromisoformat(p["at"]), p["accuracy"])
            for p in walk()
        ],
        cases=list(cases),
    )


def _someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


def _race(first, second) -> list:
    """Run `first` in a transaction held open until `second`, started meanwhile, waits
    for its lock; then commit `first`. What each returned or raised, in that order."""
    from tests.base import wait_for

    results: list = [None, None]
    holding, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                results[0] = first()
                holding.set()
                release.wait(30)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[0] = exc
        finally:
            holding.set()
            connection.close()

    def run():
        try:
            results[1] = second()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[1] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=hold), threading.Thread(target=run)]
    threads[0].start()
    holding.wait(30)
    threads[1].start()
    try:
        wait_for(_someone_waits_for_a_lock, seconds=20, step=0.05)
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
    return results


@pytest.mark.postgis
def test_a_patrol_arriving_while_its_report_links_itself_is_recorded_with_the_case(
    committed_cast,
):
    from tests.base import report

    case = report(committed_cast.worker, client_id="case-1")
    linking, recording = _race(
        lambda: services.link_case(case=case, patrol_client_id="patrol-1"),
        lambda: services.record_patrol(
            worker=committed_cast.worker, payload=_payload(cases=("case-1",))
        ),
    )
    assert not isinstance(linking, Exception), linking
    assert isinstance(recording, services.PatrolResult), recording
    link = PatrolCase.objects.get()
    assert (link.patrol, link.case) == (recording.patrol, case)


@pytest.mark.postgis
def test_a_report_linking_itself_while_its_patrol_arrives_is_linked(committed_cast):
    from tests.base import report

    worker = committed_cast.worker
    # The patrol names the report, which it does not find yet: its row waits for it.
    recorded, linking = _race(
        lambda: services.record_patrol(worker=worker, payload=_payload(cases=("case-1",))),
        lambda: services.link_case(
            case=report(worker, client_id="case-1"), patrol_client_id="patrol-1"
        ),
    )
    assert isinstance(recorded, services.PatrolResult), recorded
    assert not isinstance(linking, Exception), linking
    link = PatrolCase.objects.get()
    assert (link.patrol, link.case) == (recorded.patrol, Case.objects.get())


def test_a_report_by_someone_else_naming_a_patrol_before_it_arrives_is_not_tied_to_it(cast):
    # worker2's report names worker's patrol (a guessed or reused client id) first.
    theirs = api(cast.worker2).post(
        "/api/v1/cases/", body(client_id="case-2", patrol="patrol-1"), format="multipart"
    )
    assert theirs.status_code == 201
    recorded = api(cast.worker).post("/api/v1/patrols/", patrol(), format="json").json()
    assert recorded["cases"] == []
    assert not PatrolCase.objects.filter(patrol__isnull=False).exists()


def test_a_check_in_at_a_place_id_too_large_for_any_row_is_refused(cast):
    huge = {"place": 10**20, "lon": LON, "lat": 30.558, "at": START.isoformat()}
    refused = api(cast.worker).post("/api/v1/patrols/", patrol(check_ins=[huge]), format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"]["check_ins"]
    assert not Patrol.objects.exists()
