"""A street leader's dashboard and monthly report in a real browser (Debian's chromium).

The charts are ECharts instances; what they draw (getOption()) must be what
/api/v1/metrics/ answers for the same street and month. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cases import services
from frontend.dashboard import TREND_LENGTH, Period
from tests.base import POINT_B1, build_cast, build_territory, report
from tests.live import chromium, live_server
from tests.test_metrics import close_on_site

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHARTS = ["communities", "departments", "overdue", "trend", "categories", "hot_spots", "steps"]

# What each chart draws: its category axis (or pie names) and each series' data.
DRAWN = """() => {
  const out = {};
  for (const [name, chart] of Object.entries(window.gridcaseDashboard.charts)) {
    const o = chart.getOption();
    const axis = [].concat(o.yAxis || [], o.xAxis || []).find(a => a.type === "category");
    out[name] = {
      axis: axis ? axis.data : null,
      series: Object.fromEntries(o.series.map(s => [s.id, {name: s.name, data: s.data}])),
    };
  }
  return out;
}"""


def get_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def metrics(url: str, token: str, group: str, period: Period, start=None) -> list[dict]:
    query = {
        "group": group,
        "start": (start or period.start).isoformat(),
        "end": period.end.isoformat(),
    }
    return get_json(f"{url}/api/v1/metrics/?{urllib.parse.urlencode(query)}", token)["units"]


def by_axis(drawn: dict, series: str) -> dict:
    return dict(zip(drawn["axis"], drawn["series"][series]["data"], strict=True))


def street_a_month(cast):
    """Closed, overdue and reopened cases in street A; one case in street B."""
    close_on_site(cast, report(cast.worker))
    late = report(cast.worker)
    services.deadline_sweep(now=late.step_due)
    sent_back = report(cast.worker, code="0101")
    services.case_triage(actor=cast.dispatcher, number=sent_back.number, route="onsite")
    services.case_handle(actor=cast.worker, number=sent_back.number, result="x")
    services.case_verify(actor=cast.worker2, number=sent_back.number, passed=False, note="未完成")
    report(cast.coordinator, point=(114.312, 30.558))  # community A2
    hazard = report(cast.coordinator, code="0301", major_hazard=True)
    services.case_dispatch(actor=cast.coordinator, number=hazard.number, department=cast.department)
    report(cast.outsider, point=POINT_B1)
    return late


def open_page(browser, url: str, session: Client, path: str, **options):
    context = browser.new_context(locale="zh-CN", **options)
    cookie = session.cookies["sessionid"].value
    context.add_cookies(
        [{"name": "sessionid", "value": cookie, "domain": "127.0.0.1", "path": "/"}]
    )
    page = context.new_page()
    page.goto(url + path)
    return context, page


def test_the_leaders_charts_draw_what_the_api_answers_for_the_street_and_month(reference_data):
    cast = build_cast(build_territory())
    late = street_a_month(cast)
    token = Token.objects.create(user=cast.leader).key
    session = Client()
    session.force_login(cast.leader)
    period = Period.containing("month", timezone.localdate())
    ARTIFACTS.mkdir(exist_ok=True)

    with live_server() as url, chromium() as browser:
        context, page = open_page(
            browser, url, session, "/dashboard/", viewport={"width": 1400, "height": 900}
        )
        page.wait_for_function(
            f"window.gridcaseDashboard && "
            f"Object.keys(window.gridcaseDashboard.charts).length === {len(CHARTS)}"
        )
        # Each chart is drawn on its canvas, not only configured.
        assert page.evaluate("document.querySelectorAll('[data-chart] canvas').length") == len(
            CHARTS
        )
        drawn = page.evaluate(DRAWN)
        assert sorted(drawn) == sorted(CHARTS)

        communities = metrics(url, token, "community", period)
        departments = [u for u in metrics(url, token, "department", period) if u["code"]]
        for rate in ("response_rate", "resolution_rate", "satisfaction_rate"):
            assert by_axis(drawn["communities"], rate) == {u["name"]: u[rate] for u in communities}
            assert by_axis(drawn["departments"], rate) == {u["name"]: u[rate] for u in departments}
        assert drawn["communities"]["series"]["response_rate"]["name"] == "响应率"
        assert by_axis(drawn["overdue"], "overdue") == {
            u["name"]: u["overdue"] for u in communities + departments if u["overdue"]
        }

        first = period.shifted(1 - TREND_LENGTH).start
        months = metrics(url, token, "month", period, start=first)
        assert drawn["trend"]["axis"] == [u["code"] for u in months]
        for figure in ("reported", "closed", "overdue", "resolution_rate"):
            assert drawn["trend"]["series"][figure]["data"] == [u[figure] for u in months]

        (street,) = metrics(url, token, "street", period)
        pie = drawn["categories"]["series"]["categories"]["data"]
        assert sorted(slice["value"] for slice in pie) == sorted(street["by_category"].values())
        assert sum(slice["value"] for slice in pie) == street["reported"] == 5
        assert {slice["name"] for slice in pie} == {"环境卫生", "矛盾纠纷", "安全隐患"}

        cells = metrics(url, token, "cell", period)
        assert by_axis(drawn["hot_spots"], "reported") == {u["code"]: u["reported"] for u in cells}
        assert sorted(drawn["steps"]["series"]["hours"]["data"]) == sorted(
            street["hours_by_step"].values()
        )
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # 督办 from the overdue list: the loop's urge, and back to the list.
        row = page.locator(f'tr[data-number="{late.number}"]')
        row.locator("input[name=note]").fill("今天下班前办结")
        row.locator("button[type=submit]").click()
        page.wait_for_selector(f'tr[data-number="{late.number}"] .supervised')
        assert page.url.startswith(url + "/dashboard/")
        context.close()


def test_the_monthly_report_prints_with_chinese_labels_the_unit_and_the_month(reference_data):
    cast = build_cast(build_territory())
    street_a_month(cast)
    session = Client()
    session.force_login(cast.leader)
    today = timezone.localdate()
    ARTIFACTS.mkdir(exist_ok=True)

    with live_server() as url, chromium() as browser:
        context, page = open_page(
            browser, url, session, "/dashboard/report/", viewport={"width": 900, "height": 1200}
        )
        page.wait_for_function("window.gridcaseDashboard && window.gridcaseDashboard.charts.trend")
        # Drawn as SVG, which prints sharp.
        assert page.locator("[data-chart=trend] svg").count() == 1
        assert page.locator("#report-period").inner_text() == f"{today.year}年{today.month}月"
        assert page.locator("#report-unit").inner_text() == "杨园街道"
        text = page.locator("article.report-page").inner_text()
        for label in ("网格化管理工作月报", "总体情况", "响应率", "解决率", "满意率", "超期案件"):
            assert label in text, label
        page.emulate_media(media="print")
        assert page.locator(".topbar").is_hidden() and page.locator(".report-tools").is_hidden()
        page.screenshot(path=str(ARTIFACTS / "monthly-report.png"), full_page=True)
        context.close()
