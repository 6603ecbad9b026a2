"""List, map and inbox endpoints answer in a constant number of queries, whatever the size."""

import pytest
from rest_framework.authtoken.models import Token

from cases import services
from cases.models import Case
from tests.base import api, body, report


@pytest.fixture
def thirty(cast):
    cases = [report(cast.worker) for _ in range(30)]
    for case in cases[:10]:
        services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    return cases


def count(django_assert_max_num_queries, limit, call):
    with django_assert_max_num_queries(limit):
        return call()


def test_the_case_list(cast, thirty, django_assert_max_num_queries):
    client = api(cast.leader)
    data = count(
        django_assert_max_num_queries, 8, lambda: client.get("/api/v1/cases/?limit=100").json()
    )
    assert len(data["results"]) == 30


def test_my_tasks(cast, thirty, django_assert_max_num_queries):
    client = api(cast.worker)
    data = count(django_assert_max_num_queries, 10, lambda: client.get("/api/v1/tasks/").json())
    assert len(data) == 10


def test_open311_requests(client, cast, thirty, django_assert_max_num_queries):
    key = Token.objects.create(user=cast.leader).key
    rows = count(
        django_assert_max_num_queries,
        8,
        lambda: client.get("/open311/v2/requests.json", {"api_key": key}).json(),
    )
    assert len(rows) == 30


def test_the_map_snapshot_and_stats(client, cast, thirty, django_assert_max_num_queries):
    client.force_login(cast.leader)
    snap = count(django_assert_max_num_queries, 10, lambda: client.get("/map/snapshot.json").json())
    assert len(snap["markers"]) == 30
    stats = count(django_assert_max_num_queries, 6, lambda: client.get("/map/stats.json").json())
    assert stats["open"] == 30


def test_a_report(cast, django_assert_max_num_queries):
    # The busiest write there is (docs/benchmarks.md, intake): the idempotency
    # check, the cell, the day's number, the process with its two tasks and
    # their link, the case, its cell's workers at the time (one INSERT … SELECT),
    # the sequence number and the timeline entry; the triage step's owners (the
    # closest level with anyone, then its people), their "new task" notification
    # and their outbound preferences; inside the test's transaction the case's own
    # is a savepoint and its release.
    client = api(cast.worker)
    warm = client.post("/api/v1/cases/", body(client_id="warm"), format="json")
    assert warm.status_code == 201, warm.json()  # the cell is cached from here on
    answer = count(
        django_assert_max_num_queries,
        17,
        lambda: client.post("/api/v1/cases/", body(client_id="second"), format="json"),
    )
    assert answer.status_code == 201, answer.json()
    assert (
        answer.json()["task_id"]
        == services.open_task(Case.objects.get(number=answer.json()["number"])).pk
    )


def test_my_patrols_and_my_diary(cast, django_assert_max_num_queries):
    from tests.test_patrols import patrol, place, walk

    gate = place()
    client = api(cast.worker)
    at = walk()[5]["at"]
    for n in range(12):
        check_in = {"place": gate.pk, "lon": 114.302, "lat": 30.558, "at": at}
        client.post("/api/v1/patrols/", patrol(f"p{n}", check_ins=[check_in]), format="json")
        client.post(
            "/api/v1/diary/",
            {"client_id": f"d{n}", "visited_at": at, "text": "走访"},
            format="multipart",
        )
    patrols = count(
        django_assert_max_num_queries, 6, lambda: client.get("/api/v1/patrols/mine/").json()
    )
    assert len(patrols["results"]) == 12
    entries = count(
        django_assert_max_num_queries, 5, lambda: client.get("/api/v1/diary/mine/").json()
    )
    assert len(entries["results"]) == 12
    setup = count(
        django_assert_max_num_queries, 4, lambda: client.get("/api/v1/patrols/setup/").json()
    )
    assert [p["id"] for p in setup["places"]] == [gate.pk]
