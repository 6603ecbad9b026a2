"""The demo's cases cover every state, made through the services."""

from cases.demo import seed_demo_cases
from cases.models import DeadlineState, State
from grid.models import Post, Role
from tests.base import make_user


def test_the_demo_has_a_case_in_every_state(cast, territory):
    street_mediator = make_user("street-mediator")
    Post.objects.create(user=street_mediator, role=Role.MEDIATOR, street=territory.street_a)
    cases = seed_demo_cases(territory.a1)
    assert {c.state for c in cases} == set(State.values)
    assert any(c.deadline_state == DeadlineState.RED for c in cases)
    assert any(c.major_hazard for c in cases)
    assert all(c.timeline.exists() for c in cases)


def test_a_community_without_a_team_gets_no_demo_cases(cast, territory):
    assert seed_demo_cases(territory.b2) == []
