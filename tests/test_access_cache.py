"""Per-process copies of tokens, territories and cells: used while current, dropped on change."""

import uuid

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core import sharedstate
from grid.models import CellAssignment, Post
from tests.base import POINT_A1_001, api

LON, LAT = POINT_A1_001
LOCATE = f"/api/v1/territory/locate/?lon={LON}&lat={LAT}"


def test_a_revoked_token_is_refused_at_once(cast):
    client = api(cast.worker)
    assert client.get(LOCATE).status_code == 200
    Token.objects.filter(user=cast.worker).get().delete()
    assert client.get(LOCATE).status_code == 401


def test_a_deactivated_user_is_refused_at_once(cast):
    client = api(cast.worker)
    assert client.get(LOCATE).status_code == 200
    cast.worker.is_active = False
    cast.worker.save()
    assert client.get(LOCATE).status_code == 401


def test_an_ended_post_narrows_the_territory_at_once(cast):
    client = api(cast.worker)
    assert client.get(LOCATE).status_code == 200
    now = timezone.now()
    for row in [*Post.objects.filter(user=cast.worker), *cast.worker.cell_assignments.all()]:
        row.ended = now
        row.save()
    refused = client.get(LOCATE)
    assert refused.status_code == 400 and "outside your territory" in refused.json()["detail"]


def test_a_warm_lookup_is_one_query(cast, django_assert_num_queries):
    client = api(cast.worker)
    assert client.get(LOCATE).status_code == 200
    with django_assert_num_queries(1):
        assert client.get(LOCATE).json()["cell"] == "420106002001001"


@pytest.mark.redis
def test_another_processs_change_reaches_this_one_through_the_generation(cast):
    client = api(cast.worker)
    assert client.get(LOCATE).status_code == 200
    # Another process ends the posts: this one's signals never fire, its copy stays…
    now = timezone.now()
    Post.objects.filter(user=cast.worker).update(ended=now)
    CellAssignment.objects.filter(worker=cast.worker).update(ended=now)
    assert client.get(LOCATE).status_code == 200
    # …until that process's commit starts a new generation in Redis.
    # A value no run has used: an earlier run's "elsewhere" may still be in Redis.
    fresh = f"elsewhere-{uuid.uuid4()}"
    sharedstate.redis_client().set(sharedstate.KEY_PREFIX + "gen:access", fresh)
    assert client.get(LOCATE).status_code == 400


def test_a_change_publishes_a_new_generation_on_commit(transactional_db):
    # Committed for real: one transaction starts one new generation, when it commits.
    from django.db import transaction

    from tests.base import build_cast, build_territory

    cast = build_cast(build_territory())
    before = sharedstate.generation("access")
    with transaction.atomic():
        Post.objects.filter(user=cast.worker).get().save()
        assert sharedstate.generation("access") == before
    assert sharedstate.generation("access") != before


def test_with_redis_down_the_api_still_answers_from_the_database(cast, settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    monkeypatch.setattr(sharedstate, "_client", None)
    client = api(cast.worker)
    assert client.get(LOCATE).status_code == 200
    Token.objects.filter(user=cast.worker).update(key="f" * 40)  # no signal, no generation
    assert client.get(LOCATE).status_code == 401
