"""Nobody outside a patrol's or a diary entry's territory sees it: a property.

Hypothesis walks a worker of a random community along a random path inside it
and has them write a diary entry on the way; every viewer of the cast then reads
the map's patrol layer and the diary search. Each sees the patrol and the entry
exactly when its community lies in their territory. Each example runs in a
savepoint rolled back at its end.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diary.services import diary_record
from grid.models import Post, Role
from patrols import services
from tests.base import logged_in, make_user

START = datetime.fromisoformat("2026-12-01T09:00:00+08:00")
# Each community's south-west corner (tests/base.py: 0.01° squares).
CORNERS = {
    "a1": (114.30, 30.55),
    "a2": (114.31, 30.55),
    "b1": (114.30, 30.54),
    "b2": (114.31, 30.54),
}
# Inside the square with a margin, so GPS tolerance never reaches a neighbour.
INSIDE = st.floats(min_value=0.001, max_value=0.009)


@pytest.fixture
def world(cast, territory):
    workers = {}
    for name in CORNERS:
        worker = make_user(f"walker-{name}", first_name=f"巡查员{name}")
        Post.objects.create(user=worker, role=Role.GRID_WORKER, community=getattr(territory, name))
        workers[name] = worker
    b_leader = make_user("b_leader")
    Post.objects.create(user=b_leader, role=Role.LEADER, street=territory.street_b)
    # Which communities each viewer's territory holds.
    viewers = {
        "leader": (cast.leader, {"a1", "a2"}),
        "dispatcher": (cast.dispatcher, {"a1"}),
        "outsider": (cast.outsider, {"b1"}),
        "handler": (cast.handler, set()),
        "b_leader": (b_leader, {"b1", "b2"}),
        "worker": (cast.worker, {"a1"}),
    }
    sessions = {role: (logged_in(user), seen) for role, (user, seen) in viewers.items()}
    return workers, sessions


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    community=st.sampled_from(sorted(CORNERS)),
    path=st.lists(st.tuples(INSIDE, INSIDE), min_size=2, max_size=8),
)
def test_a_patrol_and_a_diary_entry_are_seen_only_inside_their_community(world, community, path):
    workers, sessions = world
    x0, y0 = CORNERS[community]
    fixes = [
        services.Fix(x0 + dx, y0 + dy, START + timedelta(minutes=i), 5.0)
        for i, (dx, dy) in enumerate(path)
    ]
    savepoint = transaction.savepoint()
    try:
        services.record_patrol(
            worker=workers[community],
            payload=services.PatrolPayload(
                client_id="walk",
                started_at=START,
                ended_at=START + timedelta(minutes=len(path)),
                points=fixes,
            ),
        )
        diary_record(
            author=workers[community],
            client_id="visit",
            visited_at=START,
            text="走访记录甲乙丙",
            point=Point(fixes[0].lon, fixes[0].lat, srid=4326),
        )
        for role, (session, seen) in sessions.items():
            layer = session.get("/map/patrols.json", {"date": "2026-12-01"})
            shown = [f["properties"]["worker"] for f in layer.json().get("features", [])]
            diary = session.get("/diary/", {"q": "甲乙丙"}).content.decode()
            expected = community in seen
            assert shown == ([f"巡查员{community}"] if expected else []), role
            assert ("走访记录甲乙丙" in diary) == expected, role
    finally:
        transaction.savepoint_rollback(savepoint)
