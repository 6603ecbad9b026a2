"""The live map's page and JSON: territory first, aggregates, the cursor."""

from django.templatetags.static import static

from cases import mapdata, services
from cases.models import Case, OpenCount
from tests.base import POINT_B1, make_user, report


def test_the_map_page_loads_only_local_assets(client, cast):
    client.force_login(cast.leader)
    html = client.get("/map/").content.decode()
    assert static("leaflet/leaflet.js") in html  # hashed, as DEBUG off serves it
    assert static("gridcase/map.js") in html  # hashed, as DEBUG off serves it
    assert "https://" not in html and "http://" not in html


def test_boundaries_cover_only_the_users_territory(client, cast):
    client.force_login(cast.leader)
    data = client.get("/map/boundaries.json").json()
    assert [f["properties"]["code"] for f in data["streets"]["features"]] == ["420106002"]
    assert len(data["communities"]["features"]) == 2
    assert {f["properties"]["code"][:9] for f in data["cells"]["features"]} == {"420106002"}


def test_the_snapshot_has_a_cursor_cell_counts_and_markers(client, cast, territory):
    case = report(cast.worker)
    report(cast.outsider, point=POINT_B1)
    services.deadline_sweep(now=case.step_due)
    client.force_login(cast.leader)
    snap = client.get("/map/snapshot.json").json()
    assert snap["last_seq"] == mapdata.last_seq()
    cell = territory.cell("420106002001001")
    assert snap["cells"] == {str(cell.pk): {"open": 1, "overdue": 1}}
    assert [m["number"] for m in snap["markers"]] == [case.number]
    assert snap["markers"][0]["deadline"] == "red"


def test_the_snapshot_aggregates_when_the_view_holds_too_many(client, cast, monkeypatch):
    monkeypatch.setattr(mapdata, "MAX_MARKERS", 1)
    report(cast.worker)
    report(cast.worker)
    client.force_login(cast.leader)
    snap = client.get("/map/snapshot.json").json()
    assert snap["markers"] is None
    assert snap["in_view"] == 2
    assert sum(c["open"] for c in snap["cells"].values()) == 2


def test_filters_and_bbox_narrow_the_markers(client, cast):
    report(cast.worker, code="0401")
    hazard = report(cast.worker, code="0303")
    client.force_login(cast.leader)
    snap = client.get("/map/snapshot.json?category=03").json()
    assert [m["number"] for m in snap["markers"]] == [hazard.number]
    elsewhere = client.get("/map/snapshot.json?bbox=116.3,39.8,116.5,40.0").json()
    assert elsewhere["markers"] == []


def test_stats_count_the_territory_only(client, cast):
    report(cast.worker)
    report(cast.outsider, point=POINT_B1)
    client.force_login(cast.leader)
    stats = client.get("/map/stats.json").json()
    assert stats["open"] == 1
    assert stats["new_today"] == 1
    assert stats["overdue"] == 0


def test_case_details_and_cells_outside_the_territory_are_404(client, cast, territory):
    b_case = report(cast.outsider, point=POINT_B1)
    client.force_login(cast.leader)
    assert client.get(f"/map/cases/{b_case.number}.json").status_code == 404
    b_cell = territory.cell("420106003001001")
    assert client.get(f"/map/cells/{b_cell.pk}.json").status_code == 404


def test_a_case_panel_shows_the_timeline_and_the_cell_panel_its_workers(client, cast, territory):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.task_claim(actor=cast.worker2, number=case.number)
    client.force_login(cast.leader)
    panel = client.get(f"/map/cases/{case.number}.json").json()
    assert [e["action"] for e in panel["timeline"]] == ["reported", "triaged", "claimed"]
    assert [e["label"] for e in panel["timeline"]] == ["上报", "立案并派遣", "签收"]
    assert panel["handler"] == "worker2"
    cell = client.get(f"/map/cells/{territory.cell('420106002001001').pk}.json").json()
    assert sorted(cell["workers"]) == ["worker", "worker2"]
    assert cell["open"] == 1
    assert Case.objects.count() == 1


def test_the_snapshot_needs_few_queries(client, cast, django_assert_max_num_queries):
    for _ in range(20):
        report(cast.worker)
    client.force_login(cast.leader)
    with django_assert_max_num_queries(12):
        snap = client.get("/map/snapshot.json").json()
    assert len(snap["markers"]) == 20


def test_the_map_speaks_chinese_by_default_and_english_on_request(client, cast):
    client.force_login(cast.leader)
    assert "响应率" in client.get("/map/").content.decode()
    client.cookies["django_language"] = "en"
    assert "Response rate" in client.get("/map/").content.decode()


def test_a_large_territory_sends_cells_per_viewport(client, cast, territory, monkeypatch):
    monkeypatch.setattr(mapdata, "MAX_CELLS", 4)
    client.force_login(cast.leader)  # street A has 8 cells
    assert client.get("/map/boundaries.json").json()["cells"] is None
    a1 = territory.a1.boundary.extent
    cells = client.get("/map/cells.json?bbox=" + ",".join(map(str, a1))).json()
    codes = {f["properties"]["code"] for f in cells["features"]}
    assert {"420106002001001", "420106002001004"} <= codes
    assert all(code.startswith("420106002") for code in codes)
    assert client.get("/map/cells.json").status_code == 400


def test_the_snapshot_and_stats_read_the_counts(client, cast):
    case = report(cast.worker)
    report(cast.outsider, point=POINT_B1)
    client.force_login(cast.leader)
    # The counts say what the map shows, so a count that drifted shows: the
    # snapshot and the stats strip read them rather than counting cases.
    OpenCount.objects.filter(street_id=case.street_id).update(open=5)
    snap = client.get("/map/snapshot.json").json()
    assert snap["streets"] == {str(case.street_id): {"open": 5, "overdue": 0}}
    assert snap["cells"] == {str(case.cell_id): {"open": 5, "overdue": 0}}
    assert client.get("/map/stats.json").json()["open"] == 5
    # A filter the counts cannot answer is counted from the cases.
    filtered = client.get("/map/snapshot.json?category=04").json()
    assert filtered["streets"] == {str(case.street_id): {"open": 1, "overdue": 0}}


def test_a_map_zoomed_out_asks_for_no_cell_counts(client, cast):
    report(cast.worker)
    client.force_login(cast.leader)
    snap = client.get("/map/snapshot.json?cells=0").json()
    assert snap["cells"] == {} and sum(s["open"] for s in snap["streets"].values()) == 1


def test_a_city_map_starts_with_districts_and_streets(client, cast, territory):
    boss = make_user("boss", is_superuser=True, is_staff=True)
    report(cast.worker)
    report(cast.outsider, point=POINT_B1)
    client.force_login(boss)
    data = client.get("/map/boundaries.json").json()
    assert data["communities"] is None
    assert {f["properties"]["code"] for f in data["streets"]["features"]} == {
        "420106002",
        "420106003",
    }
    assert [f["properties"]["code"] for f in data["districts"]["features"]] == ["420106"]
    stats = client.get("/map/stats.json").json()
    assert stats["communities"] == {} and set(stats["streets"]) == {
        str(territory.street_a.pk),
        str(territory.street_b.pk),
    }
    assert sum(s["open"] for s in stats["streets"].values()) == 2


def test_communities_come_per_viewport_and_only_the_territorys(client, cast, territory):
    client.force_login(cast.leader)  # street A
    whole = "114.0,30.0,115.0,31.0"
    codes = {
        f["properties"]["code"]
        for f in client.get(f"/map/communities.json?bbox={whole}").json()["features"]
    }
    assert codes and all(code.startswith("420106002") for code in codes)
    a1 = ",".join(map(str, territory.a1.boundary.extent))
    near = client.get(f"/map/communities.json?bbox={a1}").json()["features"]
    assert territory.a1.code in {f["properties"]["code"] for f in near}
    assert client.get("/map/communities.json").status_code == 400
    assert client.get("/map/communities.json?bbox=1,2").status_code == 400


def test_shapes_are_read_again_after_a_boundary_changes(client, cast, territory):
    client.force_login(cast.leader)
    before = client.get("/map/boundaries.json").json()["streets"]["features"][0]
    street = territory.street_a
    street.name = "新名字街道"
    street.save()
    after = client.get("/map/boundaries.json").json()["streets"]["features"][0]
    assert before["properties"]["name"] != "新名字街道"
    assert after["properties"]["name"] == "新名字街道"
