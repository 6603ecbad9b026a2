"""A street leader's map in a real browser (Debian's chromium through Playwright).

Cases reported through the HTTP API of a live server appear without a reload,
also after the browser's WebSocket was cut and restored. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.base import POINT_A1_001, build_cast, build_territory
from tests.live import chromium, live_server, post_json

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def open_map(browser, url: str, session: Client):
    """A logged-in leader's map, live (its WebSocket connected)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    cookie = session.cookies["sessionid"].value
    context.add_cookies(
        [{"name": "sessionid", "value": cookie, "domain": "127.0.0.1", "path": "/"}]
    )
    page = context.new_page()
    page.goto(url + "/map/")
    page.wait_for_function("window.gridcaseMap && window.gridcaseMap.connected", timeout=10000)
    return context, page


def report_through_api(url: str, token: str, description: str) -> str:
    lon, lat = POINT_A1_001
    data = {"category": "0401", "description": description, "lon": lon, "lat": lat}
    return post_json(url + "/api/v1/cases/", data, token)["number"]


def marker_shown(page, number: str, timeout_ms: int = 2000) -> None:
    page.wait_for_selector(f'.case-marker[data-number="{number}"]', timeout=timeout_ms)


def test_a_reported_case_appears_live_and_after_a_cut_connection(reference_data):
    cast = build_cast(build_territory())
    token = Token.objects.create(user=cast.worker).key
    session = Client()
    session.force_login(cast.leader)
    ARTIFACTS.mkdir(exist_ok=True)

    with live_server() as url, chromium() as browser:
        context, page = open_map(browser, url, session)
        page.wait_for_function("document.querySelector('[data-stat=open]').textContent === '0'")
        # GCJ-02 (for Gaode/Tencent tiles) shifts Wuhan by a few hundred metres, not Tokyo.
        shifted = page.evaluate("GridCaseGcj02.toGcj02(114.302, 30.558)")
        assert 0.003 < shifted[0] - 114.302 < 0.008 and -0.004 < shifted[1] - 30.558 < 0.001
        assert page.evaluate("GridCaseGcj02.toGcj02(139.69, 35.69)") == [139.69, 35.69]
        page.screenshot(path=str(ARTIFACTS / "map-empty.png"))

        first = report_through_api(url, token, "楼道堆物")
        marker_shown(page, first)
        page.wait_for_function(
            "document.querySelector('[data-stat=open]').textContent === '1'", timeout=2000
        )
        page.screenshot(path=str(ARTIFACTS / "map-live-case.png"))

        # Cut the socket and keep the browser offline while another case is reported.
        context.set_offline(True)
        page.evaluate("window.gridcaseMap.socket.close()")
        page.wait_for_function("!window.gridcaseMap.connected")
        second = report_through_api(url, token, "路灯损坏")
        # Wait until the map has tried to reconnect and failed while offline:
        # the case it missed must come from the catch-up, not a live event.
        page.wait_for_function("window.gridcaseMap.retry >= 2", timeout=10000)
        assert page.query_selector(f'.case-marker[data-number="{second}"]') is None
        context.set_offline(False)

        page.wait_for_function("window.gridcaseMap.connected", timeout=20000)
        marker_shown(page, second, timeout_ms=5000)
        page.wait_for_function(
            "document.querySelector('[data-stat=open]').textContent === '2'", timeout=5000
        )
        assert page.evaluate("Object.keys(window.gridcaseMap.markers).length") == 2

        page.click(f'.case-marker[data-number="{second}"]')
        page.wait_for_selector(f"#panel h2:text('{second}')")
        page.screenshot(path=str(ARTIFACTS / "map-after-reconnect.png"))
        context.close()


@pytest.mark.redis
def test_a_case_reported_to_one_process_reaches_a_map_on_another(reference_data):
    cast = build_cast(build_territory())
    token = Token.objects.create(user=cast.worker).key
    session = Client()
    session.force_login(cast.leader)

    with live_server() as url_a, live_server() as url_b, chromium() as browser:
        context, page = open_map(browser, url_b, session)
        number = report_through_api(url_a, token, "跨进程")
        marker_shown(page, number, timeout_ms=3000)
        assert page.evaluate("window.gridcaseMap.eventsApplied") >= 1
        context.close()


def test_events_that_arrive_out_of_order_are_all_shown_and_a_stale_one_is_ignored(
    reference_data,
):
    # Each web process broadcasts its own events after commit, so a map can get
    # sequence number N+1 before N. Both must show; an older event of a case
    # must not undo a newer one.
    cast = build_cast(build_territory())
    session = Client()
    session.force_login(cast.leader)
    lon, lat = POINT_A1_001

    def deliver(page, seq: int, number: str, state: str) -> None:
        case = {
            "number": number, "state": state, "category": "0401", "urgency": "normal",
            "major_hazard": False, "deadline": "green", "lon": lon, "lat": lat,
        }  # fmt: skip
        message = {"type": "event", "event": {"seq": seq, "case": case}}
        page.evaluate(
            "m => window.gridcaseMap.socket.onmessage({data: JSON.stringify(m)})", message
        )

    with live_server() as url, chromium() as browser:
        context, page = open_map(browser, url, session)
        base = page.evaluate("window.gridcaseMap.lastSeq")
        deliver(page, base + 2, "X-2", "triage")
        deliver(page, base + 1, "X-1", "triage")
        marker_shown(page, "X-2")
        marker_shown(page, "X-1")
        deliver(page, base + 4, "X-2", "closed")
        deliver(page, base + 3, "X-2", "onsite")
        page.wait_for_selector('.case-marker[data-number="X-2"]', state="detached", timeout=2000)
        assert sorted(page.evaluate("Object.keys(window.gridcaseMap.markers)")) == ["X-1"]
        assert page.evaluate("window.gridcaseMap.lastSeq") == base + 4

        # A snapshot that arrives after newer events (it was read before they
        # committed) does not undo them, nor lets an older event through after.
        deliver(page, base + 6, "X-3", "triage")
        drawn = page.evaluate("window.gridcaseMap.snapshotsDrawn")
        page.evaluate("document.getElementById('filters').dispatchEvent(new Event('change'))")
        page.wait_for_function(f"window.gridcaseMap.snapshotsDrawn > {drawn}")
        deliver(page, base + 5, "X-3", "closed")
        assert sorted(page.evaluate("Object.keys(window.gridcaseMap.markers)")) == ["X-1", "X-3"]

        # On reconnect the map asks again for a little before the newest event
        # it saw (one overtaken just before the cut would be lost otherwise),
        # but nothing the snapshot holds.
        # The map records each frame as it sends it, so none can be missed.
        page.evaluate("window.gridcaseMap.sent = []; window.gridcaseMap.socket.close()")
        page.wait_for_function(
            "window.gridcaseMap.connected && window.gridcaseMap.sent.length > 0", timeout=20000
        )
        assert page.evaluate("window.gridcaseMap.sent") == [{"type": "resume", "after": base}]
        assert sorted(page.evaluate("Object.keys(window.gridcaseMap.markers)")) == ["X-1", "X-3"]
        context.close()
