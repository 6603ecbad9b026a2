"""Territory, categories, tasks, metrics and the case list of the API."""

from datetime import timedelta

from django.utils import timezone

from cases import services
from tests.base import POINT_A1_001, POINT_B1, api, report


def test_cells_come_as_geojson_from_the_callers_territory(cast):
    data = api(cast.leader).get("/api/v1/territory/cells/").json()
    assert data["type"] == "FeatureCollection"
    codes = {f["properties"]["code"] for f in data["features"]}
    assert len(codes) == 8 and all(c.startswith("420106002") for c in codes)
    assert data["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_a_bbox_narrows_the_features_and_a_bad_one_is_a_400(cast):
    client = api(cast.leader)
    few = client.get("/api/v1/territory/cells/?bbox=114.3001,30.5551,114.3049,30.5599").json()
    assert [f["properties"]["code"] for f in few["features"]] == ["420106002001001"]
    bad = client.get("/api/v1/territory/cells/?bbox=north")
    assert bad.status_code == 400 and "bbox" in bad.json()


def test_streets_and_communities(cast):
    client = api(cast.outsider)
    streets = client.get("/api/v1/territory/streets/").json()["features"]
    assert [f["properties"]["code"] for f in streets] == ["420106003"]
    communities = client.get("/api/v1/territory/communities/").json()["features"]
    assert {f["properties"]["code"] for f in communities} == {"420106003001"}


def test_a_point_is_located_to_its_cell(cast):
    lon, lat = POINT_A1_001
    data = api(cast.leader).get(f"/api/v1/territory/locate/?lon={lon}&lat={lat}").json()
    assert data == {
        "street": "420106002",
        "community": "420106002001",
        "cell": "420106002001001",
        "method": "cell",
    }
    lon, lat = POINT_B1
    assert api(cast.leader).get(f"/api/v1/territory/locate/?lon={lon}&lat={lat}").status_code == 400
    outside = api(cast.leader).get("/api/v1/territory/locate/?lon=116.39&lat=39.9")
    assert outside.status_code == 400 and "outside" in outside.json()["detail"]
    assert api(cast.leader).get("/api/v1/territory/locate/?lon=x").status_code == 400


def test_categories_are_listed_with_their_groups(cast):
    data = api(cast.worker).get("/api/v1/categories/").json()
    by_code = {c["code"]: c for c in data}
    assert by_code["0101"]["group"] == "01" and by_code["0101"]["dispute"]
    assert by_code["0303"]["hazard"]


def test_my_tasks_through_the_api(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    tasks = api(cast.worker).get("/api/v1/tasks/").json()
    assert [t["number"] for t in tasks] == [case.number]
    assert tasks[0]["task_id"] == services.open_task(case).pk
    assert api(cast.dispatcher).get("/api/v1/tasks/").json() == []


def test_the_case_list_filters_and_pages_with_a_cursor(cast):
    numbers = [report(cast.worker).number for _ in range(5)]
    hazard = report(cast.worker, code="0303").number
    client = api(cast.leader)
    first = client.get("/api/v1/cases/?limit=4").json()
    assert [c["number"] for c in first["results"]] == [hazard, *numbers[::-1][:3]]
    second = client.get(f"/api/v1/cases/?limit=4&cursor={first['next_cursor']}").json()
    assert [c["number"] for c in second["results"]] == numbers[1::-1]
    assert second["next_cursor"] is None
    only = client.get("/api/v1/cases/?category=03").json()["results"]
    assert [c["number"] for c in only] == [hazard]
    assert client.get("/api/v1/cases/?state=nonsense").status_code == 400
    assert client.get("/api/v1/cases/?limit=100000").status_code == 400


def test_metrics_through_the_api(cast, territory):
    report(cast.worker)
    now = timezone.now()
    start = (now - timedelta(days=1)).isoformat()
    end = (now + timedelta(days=1)).isoformat()
    data = (
        api(cast.leader)
        .get("/api/v1/metrics/", {"start": start, "end": end, "group": "community"})
        .json()
    )
    (unit,) = data["units"]
    assert (unit["code"], unit["name"]) == (territory.a1.code, territory.a1.name)
    assert unit["reported"] == 1 and unit["open"] == 1
    backwards = api(cast.leader).get("/api/v1/metrics/", {"start": end, "end": start})
    assert backwards.status_code == 400
