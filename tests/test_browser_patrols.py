"""Today's patrols on a leader's live map, in a real browser (Debian's chromium).

A worker's patrol, sent through the HTTP API of a live server with a check-in at a
key place, appears as a track and a check-in marker when the leader ticks 今日巡查;
its popup names the worker and the length. Street B's patrol never does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cases.calendar import CHINA
from grid.models import CellAssignment, Post, Role
from patrols import services
from patrols.figures import day_span
from patrols.models import KeyPlace
from tests.base import build_cast, build_territory, make_user
from tests.live import chromium, live_server, post_json
from tests.test_browser_map import ARTIFACTS, open_map

pytestmark = pytest.mark.browser
LON = 114.302


def walk(start: datetime, lat0: float, lat1: float, client_id: str, **extra) -> dict:
    points = [
        {
            "lon": LON,
            "lat": lat0 + (lat1 - lat0) * i / 9,
            "at": (start + timedelta(minutes=i)).isoformat(),
            "accuracy": 6,
        }
        for i in range(10)
    ]
    return {
        "client_id": client_id,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=10)).isoformat(),
        "points": points,
    } | extra


def test_the_leader_ticks_todays_patrols_and_sees_the_track_and_the_check_in(reference_data):
    territory = build_territory()
    cast = build_cast(territory)
    gate = services.place_save(
        KeyPlace(name="实验小学南门", kind="school", point=Point(LON, 30.558, srid=4326))
    )
    b_worker = make_user("b_worker", first_name="孙乙网格")
    Post.objects.create(user=b_worker, role=Role.GRID_WORKER, community=territory.b1)
    CellAssignment.objects.create(worker=b_worker, cell=territory.cell("420106003001001"))
    tokens = {u: Token.objects.create(user=u).key for u in (cast.worker, b_worker)}
    # Today in China, however close to midnight the test runs.
    start = max(
        timezone.now() - timedelta(minutes=15), day_span(timezone.now().astimezone(CHINA).date())[0]
    )
    session = Client()
    session.force_login(cast.leader)
    ARTIFACTS.mkdir(exist_ok=True)

    with live_server() as url:
        at = (start + timedelta(minutes=8)).isoformat()
        ours = walk(
            start, 30.551, 30.560, "ours",
            check_ins=[{"place": gate.pk, "lon": LON, "lat": 30.5582, "at": at}],
        )  # fmt: skip
        recorded = post_json(url + "/api/v1/patrols/", ours, tokens[cast.worker])
        assert recorded["created"] and recorded["check_ins"] == 1
        post_json(url + "/api/v1/patrols/", walk(start, 30.541, 30.549, "theirs"), tokens[b_worker])
        with chromium() as browser:
            context, page = open_map(browser, url, session)
            assert page.query_selector(".patrol-track") is None
            page.get_by_text("今日巡查").click()
            page.wait_for_function("window.gridcasePatrols.loads >= 1", timeout=10000)
            assert page.evaluate("window.gridcasePatrols.features") == 2  # one track, one check-in
            assert len(page.query_selector_all("path.patrol-track")) == 1
            assert len(page.query_selector_all("path.patrol-check-in")) == 1
            page.locator("path.patrol-track").click(force=True)
            popup = page.wait_for_selector(".leaflet-popup-content", timeout=5000).inner_text()
            assert "worker" in popup and "1.00 公里" in popup
            assert "孙乙网格" not in page.content()
            page.screenshot(path=str(ARTIFACTS / "map-patrols.png"))
            page.get_by_text("今日巡查").click()
            page.wait_for_function("!document.querySelector('path.patrol-track')", timeout=5000)
            context.close()
