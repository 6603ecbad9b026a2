"""A resident follows their hotline case on their own phone and rates it (real chromium).

The hotline screen gives the number and the code; the resident opens the page with
them, watches the case move, rates it at the return visit, and the rating is in the
street's figures. A wrong code is refused, and guessing is locked out.
"""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.base import POINT_A1_001, build_cast, build_territory
from tests.live import chromium, live_server, post_json

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def get_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def act(url: str, token: str, number: str, slug: str, **data) -> None:
    """One step through the API, as the desk or the phone would take it."""
    task_id = get_json(f"{url}/api/v1/cases/{number}/", token)["task_id"]
    post_json(f"{url}/api/v1/cases/{number}/{slug}/", data | {"task_id": task_id}, token)


def look_up(page, url: str, number: str, code: str) -> None:
    page.goto(url + "/r/")
    page.fill("input[name=number]", number)
    page.fill("input[name=code]", code)
    page.click("button[type=submit]")


@pytest.mark.usefixtures("reference_data")
def test_a_resident_follows_and_rates_their_hotline_case():
    cast = build_cast(build_territory())
    tokens = {who: Token.objects.create(user=getattr(cast, who)).key for who in
              ("dispatcher", "worker", "worker2", "leader")}  # fmt: skip
    desk = Client()
    desk.force_login(cast.dispatcher)
    ARTIFACTS.mkdir(exist_ok=True)
    lon, lat = POINT_A1_001

    with live_server(RESIDENT_LOOKUP_RATE="3/hour") as url, chromium() as browser:
        office = browser.new_context(locale="zh-CN")
        office.add_cookies(
            [{"name": "sessionid", "value": desk.cookies["sessionid"].value,
              "domain": "127.0.0.1", "path": "/"}]
        )  # fmt: skip
        hotline = office.new_page()
        hotline.goto(url + "/cases/new/")
        hotline.select_option("select[name=category]", "0401")
        hotline.fill("textarea[name=description]", "小区门口垃圾三天没人清")
        hotline.fill("input[name=lon]", str(lon))
        hotline.fill("input[name=lat]", str(lat))
        hotline.select_option("select[name=source]", "hotline")
        hotline.fill("input[name=reporter_name]", "赵居民")
        hotline.fill("input[name=reporter_phone]", "13812345678")
        hotline.check("input[name=reporter_consent]")
        hotline.click("button.primary[type=submit]")
        told = hotline.wait_for_selector(".messages li").inner_text()
        number = re.search(r"\d{9}-\d{8}-\d{4}", told).group()
        code = re.search(r"\b[2-9A-HJKMNP-Z]{6}\b", told).group()

        resident = browser.new_context(
            locale="zh-CN", viewport={"width": 360, "height": 640}, has_touch=True
        ).new_page()
        look_up(resident, url, number, "ZZZZZZ")
        resident.wait_for_selector("p.error[role=alert]")
        assert number not in resident.inner_text(".error")
        look_up(resident, url, number, code.lower())
        resident.wait_for_selector("p.state[data-state=open]")
        assert resident.locator(".progress li").count() == 1
        assert "赵居民" not in resident.content() and "13812345678" not in resident.content()
        link = resident.url

        act(url, tokens["dispatcher"], number, "triage", route="onsite")
        act(url, tokens["worker"], number, "handle", result="已清理")
        act(url, tokens["worker2"], number, "verify", passed=True)
        resident.goto(link)
        assert resident.locator(".progress li").count() == 4
        resident.screenshot(path=str(ARTIFACTS / "resident-before-rating.png"), full_page=True)
        resident.check("input[name=satisfaction][value=satisfied]")
        resident.fill("textarea[name=words]", "处理得很快，谢谢")
        resident.click(".rating button[type=submit]")
        resident.wait_for_selector("p.state[data-state=done]")
        assert resident.locator("form.rating").count() == 0
        resident.screenshot(path=str(ARTIFACTS / "resident-rated.png"), full_page=True)

        now = timezone.now()
        span = (
            f"start={(now - timedelta(days=1)).isoformat()}&end={(now + timedelta(1)).isoformat()}"
        )
        figures = get_json(f"{url}/api/v1/metrics/?{span.replace('+', '%2B')}", tokens["leader"])
        (street,) = figures["units"]
        assert street["satisfaction_rate"] == 1.0 and street["closed"] == 1

        # A third wrong try uses up the address's three: now even the right code waits.
        look_up(resident, url, number, "YYYYYY")
        resident.wait_for_selector("p.error[role=alert]")
        look_up(resident, url, number, code)
        resident.wait_for_selector("p.error[role=alert]")
        assert resident.url.endswith("/r/")
