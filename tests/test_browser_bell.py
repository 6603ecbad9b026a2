"""The desk bell in a real browser (Debian's chromium through Playwright): a grid
worker's task list is open; a street leader urges one of their cases through the
API of the same live server; the worker's bell counts it without a reload, and
from the list the worker chooses what reaches them outside GridCase.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from cases import services
from cases.models import Notification
from tests.base import build_cast, build_territory, report
from tests.live import ROOT, chromium, live_server, post_json

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "test-artifacts"


def test_an_urge_by_another_person_moves_the_open_pages_bell_without_a_reload(reference_data):
    cast = build_cast(build_territory())
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    task_id = services.open_task(case).pk
    before = Notification.objects.filter(user=cast.worker, read=False).count()
    leader_token = Token.objects.create(user=cast.leader).key
    session = Client()
    session.force_login(cast.worker)
    cookie = session.cookies["sessionid"].value
    ARTIFACTS.mkdir(exist_ok=True)

    with live_server() as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        context.add_cookies(
            [{"name": "sessionid", "value": cookie, "domain": "127.0.0.1", "path": "/"}]
        )
        page = context.new_page()
        page.goto(url + "/cases/tasks/")
        page.wait_for_function("window.gridcaseBell && window.gridcaseBell.connected")
        assert page.text_content("#bell-count") == str(before)
        page.evaluate("window.loadedOnce = true")  # gone if the page reloaded

        post_json(
            f"{url}/api/v1/cases/{case.number}/urge/",
            {"note": "今天办结", "task_id": task_id},
            leader_token,
        )
        page.wait_for_function(
            f"document.getElementById('bell-count').textContent === '{before + 1}'", timeout=5000
        )
        assert page.evaluate("window.loadedOnce") is True
        page.screenshot(path=str(ARTIFACTS / "bell-live.png"))

        page.click("#bell")
        page.wait_for_selector("text=今天办结")
        # From the list, the page where the person chooses what reaches them outside.
        page.click("a[href='/cases/notifications/settings/']")
        page.check("input[value='urge:sms']")
        page.fill("#id_phone", "13800138000")
        page.click("form.notification-settings button[type=submit]")
        page.wait_for_selector(".messages .success")
        assert page.is_checked("input[value='urge:sms']")
        page.screenshot(path=str(ARTIFACTS / "notification-settings.png"), full_page=True)
        context.close()
