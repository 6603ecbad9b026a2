"""A leader's map reads at 1440×900 in a zh-CN browser: a legend in Chinese, a
case that arrives live stands out for a moment, dates read year-month-day, and a
double-click zooms without opening a cell's panel. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.base import build_cast, build_territory
from tests.live import chromium, live_server
from tests.test_browser_map import ARTIFACTS, marker_shown, report_through_api

pytestmark = pytest.mark.browser


def open_leader_map(browser, url: str, session: Client):
    """open_map's page at a leader's desk size (1440×900)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    cookie = session.cookies["sessionid"].value
    context.add_cookies(
        [{"name": "sessionid", "value": cookie, "domain": "127.0.0.1", "path": "/"}]
    )
    page = context.new_page()
    page.goto(url + "/map/")
    page.wait_for_function("window.gridcaseMap && window.gridcaseMap.connected", timeout=10000)
    return context, page


@pytest.fixture
def leader_session(reference_data):
    cast = build_cast(build_territory())
    session = Client()
    session.force_login(cast.leader)
    return cast, session


def test_it_shows_a_chinese_legend_and_highlights_a_case_that_arrives_live(leader_session):
    cast, session = leader_session
    token = Token.objects.create(user=cast.worker).key
    ARTIFACTS.mkdir(exist_ok=True)

    with live_server() as url, chromium() as browser:
        context, page = open_leader_map(browser, url, session)
        legend = page.locator(".leaflet-control-container #legend")
        assert legend.is_visible()
        words = legend.inner_text()
        labels = ("图例", "正常", "即将超时", "超期", "已督办", "重大安全隐患", "刚上报或刚变化")
        assert [label for label in labels if label not in words] == []
        # The category swatches wear the markers' colours.
        assert page.evaluate(
            "getComputedStyle(document.querySelector('#legend [data-group]')).backgroundColor"
        ) not in ("", "rgba(0, 0, 0, 0)")

        number = report_through_api(url, token, "井盖缺失")
        marker_shown(page, number)
        marker = f'.case-marker[data-number="{number}"]'
        page.wait_for_selector(f"{marker}.just-changed", timeout=2000)
        page.screenshot(path=str(ARTIFACTS / "map-legend-new-case.png"))
        # The highlight is brief: the class goes once its animation has run.
        page.wait_for_selector(f"{marker}:not(.just-changed)", timeout=8000)
        # Community names are drawn above the markers.
        assert page.evaluate(
            "+getComputedStyle(document.querySelector('.leaflet-labels-pane')).zIndex"
            " > +getComputedStyle(document.querySelector('.leaflet-marker-pane')).zIndex"
        )
        context.close()


def test_it_reads_typed_dates_as_year_month_day_in_a_zh_cn_browser(leader_session):
    _cast, session = leader_session
    with live_server() as url, chromium() as browser:
        context, page = open_leader_map(browser, url, session)
        since = page.locator("input[name=since]")
        assert since.get_attribute("placeholder") == "年-月-日"
        # Typed in the order a Chinese reader writes a date, it means that date.
        since.click()
        page.keyboard.type("20261201")
        page.keyboard.press("Tab")
        page.wait_for_function("window.gridcaseMap.snapshotsDrawn > 1")
        assert since.input_value() == "2026-12-01"
        page.screenshot(path=str(ARTIFACTS / "map-date-filter.png"))

        until = page.locator("input[name=until]")
        until.fill("2026/12/3")
        until.press("Tab")
        page.wait_for_function("document.querySelector('input[name=until]').value === '2026-12-03'")
        # Not a date: the field says so and filters nothing.
        until.fill("12/03/2026")
        until.press("Tab")
        assert page.evaluate("!document.querySelector('input[name=until]').checkValidity()")
        context.close()


def test_it_zooms_on_a_double_click_without_opening_the_cell_panel(leader_session):
    _cast, session = leader_session
    with live_server() as url, chromium() as browser:
        context, page = open_leader_map(browser, url, session)
        cell = page.locator("path.map-cell").first
        zoom = page.evaluate("window.gridcaseMapZoom()")
        cell.dblclick()
        page.wait_for_function(f"window.gridcaseMapZoom() > {zoom}")
        # A plain click still opens the panel, once: the double-click asked for none.
        page.locator("path.map-cell").first.click()
        page.wait_for_selector("#panel:not([hidden]) h2")
        assert page.evaluate("window.gridcaseMap.cellPanelsAsked") == 1
        context.close()
