"""Shared test setup: markers that skip on the embedded run, and the named cast."""

from __future__ import annotations

import pytest
from channels.layers import channel_layers
from django.conf import settings
from django.utils import translation

from cases import consumers, reference
from core import sharedstate, throttling
from tests.base import Cast, build_cast, build_territory


def pytest_configure(config):
    # The SpatiaLite test database is a file under VAR_DIR.
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)


def pytest_collection_modifyitems(config, items):
    skip_postgis = pytest.mark.skip(reason="needs PostGIS (DATABASE_URL=postgis://…)")
    skip_redis = pytest.mark.skip(reason="needs Redis (REDIS_URL=redis://…)")
    for item in items:
        if "postgis" in item.keywords and not settings.IS_POSTGIS:
            item.add_marker(skip_postgis)
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def english():
    """Service messages in tests are asserted in English, the source language.

    Requests still get zh-Hans by default: LocaleMiddleware activates the
    language of each request itself.
    """
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test reads reference data, territories and tokens from its own database state,
    and starts with no API requests counted."""
    reference.clear()
    sharedstate.clear_all()
    throttling.reset()
    yield
    reference.clear()
    sharedstate.clear_all()


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets its own channel layer, and the map sockets' shared caches start empty.

    Every test runs its scenario on a new event loop (async_to_sync), and
    channels_redis keeps asyncio locks from the loop that first used it; a
    lock left held by an earlier loop fails the next test ("bound to a
    different event loop").
    """
    channel_layers.backends.clear()
    consumers.forget_shared()  # its caches are keyed by seq, and each test starts at 1
    yield
    channel_layers.backends.clear()


@pytest.fixture
def territory(db):
    """Two streets of one district, two communities each, a 2×2 grid per community."""
    return build_territory()


@pytest.fixture
def cast(territory) -> Cast:
    return build_cast(territory)


@pytest.fixture
def reference_data(transactional_db):
    """Transactional tests flush the tables the seed migration filled; refill them."""
    from cases.models import CalendarDay, Category, DeadlineRule
    from cases.seed import load_reference_data

    load_reference_data(Category, DeadlineRule, CalendarDay)


@pytest.fixture
def committed_cast(reference_data) -> Cast:
    """The cast in committed rows: sockets and servers read outside the test's transaction."""
    return build_cast(build_territory())


@pytest.fixture
def export_worker(reference_data, settings, tmp_path):
    """A real `db_worker` process on the test database, storing files under tmp_path."""
    from tests.live import task_worker

    settings.MEDIA_ROOT = tmp_path / "media"
    with task_worker() as process:
        yield process
