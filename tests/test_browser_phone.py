"""The grid worker's phone app in a real browser: a 360×640 touch screen with GPS.

Reports with a photo and a position, offline reports that arrive exactly
once when the signal returns, and a verification done from the phone.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
from PIL import Image

from cases import services
from cases.models import Case, State
from tests.base import POINT_A1_001, build_cast, build_territory, report
from tests.live import ROOT, chromium, live_server

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "test-artifacts"
LON, LAT = POINT_A1_001


def phone(browser, url: str, username: str):
    """A logged-in phone at /m/, located inside cell 420106002001001."""
    context = browser.new_context(
        viewport={"width": 360, "height": 640},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="zh-CN",
        geolocation={"latitude": LAT, "longitude": LON},
        permissions=["geolocation"],
    )
    page = context.new_page()
    log_in(page, url, username)
    return context, page


def log_in(page, url: str, username: str) -> None:
    page.goto(url + "/login/?next=/m/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password")
    page.click("button.primary")
    page.wait_for_url(url + "/m/")
    page.wait_for_function("window.gridcasePhone !== undefined")


def go_offline_after_a_first_report(context, page) -> None:
    """One report sent while online (the page's assets load), then no signal."""
    report_from_phone(page, "准备离线")
    page.wait_for_function("window.gridcasePhone.lastSent !== undefined", timeout=10000)
    context.set_offline(True)
    page.wait_for_function("document.getElementById('net').dataset.online === 'false'")


def photo(tmp_path) -> str:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (2000, 1500), (200, 120, 40)).save(path, "JPEG")
    return str(path)


def report_from_phone(page, text: str, photo_path: str | None = None) -> None:
    page.tap("a[href='#report']")
    page.wait_for_function("document.querySelector('#report-form [name=lon]').value !== ''")
    page.select_option("#category", "0401")
    page.fill("textarea[name=description]", text)
    if photo_path:
        page.set_input_files("#photos", photo_path)
        page.wait_for_function("window.gridcasePhone.photos.length === 1")
    page.tap("#report-form button[type=submit]")
    page.wait_for_function("location.hash === '#home'")


def test_a_worker_reports_a_case_with_a_photo_and_it_reaches_triage(
    reference_data, tmp_path, settings
):
    cast = build_cast(build_territory())
    ARTIFACTS.mkdir(exist_ok=True)
    settings.MEDIA_ROOT = tmp_path
    with live_server(MEDIA_ROOT=str(tmp_path)) as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        page.screenshot(path=str(ARTIFACTS / "phone-home.png"))
        report_from_phone(page, "楼道堆放杂物", photo(tmp_path))
        page.wait_for_function("window.gridcasePhone.lastSent !== undefined", timeout=10000)
        page.goto(url + "/m/#mine")
        page.wait_for_selector("#mine li")
        number = page.inner_text("#mine li b")
        page.screenshot(path=str(ARTIFACTS / "phone-my-reports.png"))
        context.close()

    case = Case.objects.get(number=number)
    assert case.cell.code == "420106002001001"
    assert case.reporter == cast.worker and case.source == "grid_worker"
    attachment = case.attachments.get()
    with Image.open(attachment.file.path) as stored:
        assert max(stored.size) == 1280  # resized on the phone before upload
    from cases.queues import triage_queue

    assert number in [c.number for c in triage_queue(cast.dispatcher)]


def test_offline_reports_are_queued_and_arrive_exactly_once(reference_data):
    build_cast(build_territory())
    with live_server() as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        go_offline_after_a_first_report(context, page)
        report_from_phone(page, "离线上报一")
        report_from_phone(page, "离线上报二")
        page.evaluate("location.hash = '#outbox'")
        page.wait_for_function("document.querySelectorAll('#outbox li').length === 2")
        assert page.inner_text("#outbox-count") == "2"
        page.screenshot(path=str(ARTIFACTS / "phone-outbox.png"))
        context.set_offline(False)
        page.wait_for_function(
            "document.querySelectorAll('#outbox li').length === 0", timeout=20000
        )
        # A second flush (the periodic one, or a reconnect) finds nothing left to send.
        done = page.evaluate("window.gridcasePhone.flushesDone")
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_function(f"window.gridcasePhone.flushesDone > {done}")
        context.close()
    descriptions = list(Case.objects.values_list("description", flat=True))
    assert sorted(descriptions) == sorted(["准备离线", "离线上报一", "离线上报二"])
    assert Case.objects.filter(client_id__isnull=False).count() == 3


def test_a_verification_is_completed_from_the_phone(reference_data):
    cast = build_cast(build_territory())
    case = report(cast.dispatcher)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(actor=cast.worker, number=case.number, result="已清理")
    with live_server() as url, chromium() as browser:
        context, page = phone(browser, url, "worker2")
        page.wait_for_selector(f"#tasks a[href='#task/{case.number}']")
        page.tap(f"#tasks a[href='#task/{case.number}']")
        page.wait_for_selector("#task-form input[name=passed]")
        page.screenshot(path=str(ARTIFACTS / "phone-verify.png"))
        page.tap("#task-form button[type=submit]")
        page.wait_for_function("window.gridcasePhone.lastSent !== undefined", timeout=10000)
        context.close()
    case.refresh_from_db()
    assert case.state == State.RETURN_VISIT
    assert case.timeline.filter(action="verified", actor=cast.worker2).count() == 1


def test_the_app_is_installable(client, cast):
    client.force_login(cast.worker)
    manifest = client.get("/m/manifest.webmanifest").json()
    assert manifest["start_url"] == "/m/" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    worker = client.get("/m/sw.js")
    assert worker["Content-Type"] == "application/javascript"
    # The shell it caches names the hashed copies that DEBUG off serves.
    assert re.search(rb"/static/gridcase/m/app\.[0-9a-f]{12}\.js", worker.content)
    html = client.get("/m/").content.decode()
    assert 'rel="manifest"' in html and "https://" not in html


def test_a_queued_result_refused_by_the_server_stays_visible_with_the_reason(reference_data):
    from rest_framework.authtoken.models import Token

    from tests.live import post_json

    cast = build_cast(build_territory())
    case = report(cast.dispatcher)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    task_id = services.open_task(case).pk
    colleague = Token.objects.create(user=cast.worker2).key
    with live_server() as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        page.wait_for_selector(f"#tasks a[href='#task/{case.number}']")
        context.set_offline(True)
        page.tap(f"#tasks a[href='#task/{case.number}']")
        page.fill("#task-form textarea[name=result]", "我去处理了")
        page.tap("#task-form button[type=submit]")
        # Meanwhile a colleague with signal handles the same case.
        post_json(
            f"{url}/api/v1/cases/{case.number}/handle/",
            {"task_id": task_id, "result": "同事已处理"},
            colleague,
        )
        context.set_offline(False)
        page.evaluate("location.hash = '#outbox'")
        page.wait_for_selector("#outbox li[data-status=refused]", timeout=20000)
        reason = page.inner_text("#outbox li[data-status=refused]")
        page.screenshot(path=str(ARTIFACTS / "phone-refused.png"))
        assert "现在不能执行此操作" in reason
        assert page.inner_text("#outbox-count") == "1"
        context.close()
    assert Case.objects.get(pk=case.pk).timeline.filter(action="handled").count() == 1


def test_an_offline_report_is_sent_only_by_its_author_on_a_shared_phone(reference_data):
    cast = build_cast(build_territory())
    with live_server() as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        go_offline_after_a_first_report(context, page)
        report_from_phone(page, "一号网格员的离线上报")
        page.evaluate("location.hash = '#outbox'")
        page.wait_for_function("document.querySelectorAll('#outbox li').length === 1")

        # The session ends while offline; the next worker logs in on the same phone.
        context.clear_cookies()
        context.set_offline(False)
        log_in(page, url, "worker2")
        done = page.evaluate("window.gridcasePhone.flushesDone")
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_function(f"window.gridcasePhone.flushesDone > {done}")
        page.evaluate("location.hash = '#outbox'")
        page.wait_for_function("document.getElementById('view-outbox').hidden === false")
        assert page.inner_text("#outbox-count") == "0"
        assert "一号网格员" not in page.inner_text("body")

        # Back in their own session, the author's report goes out under their name.
        context.clear_cookies()
        log_in(page, url, "worker")
        page.wait_for_function(
            "window.gridcasePhone.lastSent && "
            "window.gridcasePhone.lastSent.summary.indexOf('一号网格员') >= 0",
            timeout=20000,
        )
        context.close()
    # Sent once, and by its author: worker2's session never sent it.
    sent = Case.objects.get(description="一号网格员的离线上报")
    assert sent.reporter == cast.worker
