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
from cases.models import Case, Notification, State
from tests.base import POINT_A1_001, POINT_B1, build_cast, build_territory, jpeg, report
from tests.live import ROOT, chromium, live_server, post_json

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


def report_from_phone(
    page, text: str, photo_path: str | None = None, *, then: str = "#home"
) -> None:
    page.tap("a[href='#report']")
    page.wait_for_function("document.querySelector('#report-form [name=lon]').value !== ''")
    page.select_option("#category", "0401")
    page.fill("textarea[name=description]", text)
    if photo_path:
        page.set_input_files("#photos", photo_path)
        page.wait_for_function("window.gridcasePhone.photos.length === 1")
    page.tap("#report-form button[type=submit]")
    page.wait_for_function(f"location.hash === '{then}'")


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


# Codes a person must never read on the phone in zh-Hans (states, urgency, deadline
# colours, timeline actions, photo stages).
CODES = re.compile(
    r"\b(triage|onsite|mediation|street_dispatch|department|verify|return_visit|closed|"
    r"general|emergency|green|yellow|red|reported|handled|before|after|grid_worker)\b"
)
SECONDS = re.compile(r"\d{1,2}:\d{2}:\d{2}")


def visible(page, selector: str) -> bool:
    return page.is_visible(selector)


def test_the_hazard_box_is_offered_only_for_categories_that_can_be_hazards(reference_data):
    build_cast(build_territory())
    with live_server() as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        page.tap("a[href='#report']")
        page.wait_for_selector("#category option[value='0301']", state="attached")
        page.select_option("#category", "0301")  # 消防安全隐患
        assert visible(page, "#major-hazard")
        page.check("#major-hazard")
        page.select_option("#category", "0401")  # 垃圾堆放: not a hazard
        assert not visible(page, "#major-hazard")
        assert not page.is_checked("#major-hazard")  # a hidden box is never sent ticked
        page.screenshot(path=str(ARTIFACTS / "phone-no-hazard-box.png"))
        context.close()


def test_a_refused_report_is_corrected_and_resent_from_the_outbox_with_its_photos(
    reference_data, tmp_path, settings
):
    cast = build_cast(build_territory())
    settings.MEDIA_ROOT = tmp_path
    with live_server(MEDIA_ROOT=str(tmp_path)) as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        go_offline_after_a_first_report(context, page)
        # A bad fix puts the worker in the neighbouring street, outside their territory.
        context.set_geolocation({"latitude": POINT_B1[1], "longitude": POINT_B1[0]})
        report_from_phone(page, "消防通道被占用", photo(tmp_path))
        assert "有信号时" in page.inner_text("#notice")  # queued, and said so
        context.set_offline(False)
        page.evaluate("location.hash = '#outbox'")
        page.wait_for_selector("#outbox li[data-status=refused]", timeout=20000)
        assert "不在您的辖区" in page.inner_text("#outbox li[data-status=refused]")
        page.screenshot(path=str(ARTIFACTS / "phone-refused-report.png"))

        page.tap("#outbox li[data-status=refused] button[data-edit]")
        page.wait_for_function("location.hash === '#report'")
        assert page.input_value("textarea[name=description]") == "消防通道被占用"
        assert page.input_value("#category") == "0401"
        assert page.eval_on_selector_all("#thumbs img", "imgs => imgs.length") == 1
        assert "不在您的辖区" in page.inner_text("#report-error")
        # Back in the cell, the worker takes the position again and sends.
        context.set_geolocation({"latitude": LAT, "longitude": LON})
        page.tap("#locate")
        page.wait_for_function(
            f"document.querySelector('#report-form [name=lat]').value === '{LAT:.6f}'"
        )
        page.tap("#report-form button[type=submit]")
        page.wait_for_function("location.hash === '#home'", timeout=20000)
        page.wait_for_selector("#notice a[href^='#case/']")
        number = page.inner_text("#notice a")
        assert page.inner_text("#outbox-count") == "0"
        page.screenshot(path=str(ARTIFACTS / "phone-resent.png"))
        context.close()
    case = Case.objects.get(description="消防通道被占用")
    assert case.number == number and case.reporter == cast.worker
    assert case.attachments.count() == 1
    assert case.cell.code == "420106002001001"


def test_the_worker_sees_the_case_number_and_its_progress_in_chinese(
    reference_data, tmp_path, settings
):
    build_cast(build_territory())
    settings.MEDIA_ROOT = tmp_path
    with live_server(MEDIA_ROOT=str(tmp_path)) as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        report_from_phone(page, "井盖缺失", photo(tmp_path))
        page.wait_for_selector("#notice a[href^='#case/']", timeout=10000)
        notice = page.inner_text("#notice")
        number = page.inner_text("#notice a")
        assert "案件编号" in notice and number.startswith("420106002-")
        page.screenshot(path=str(ARTIFACTS / "phone-confirmation.png"))

        page.tap("#notice a")
        page.wait_for_selector("#case-body .photos img")
        page.wait_for_function(
            "document.querySelector('#case-body .photos img').naturalWidth > 0", timeout=10000
        )
        case_text = page.inner_text("#view-case")
        assert "待受理" in case_text and "上报时" in case_text
        page.screenshot(path=str(ARTIFACTS / "phone-case.png"))

        page.evaluate("location.hash = '#mine'")
        page.wait_for_selector(f"#mine a[href='#case/{number}']")
        mine_text = page.inner_text("#view-mine")
        assert "待受理" in mine_text
        page.evaluate("location.hash = '#home'")
        page.wait_for_function("document.getElementById('view-home').hidden === false")
        for text in (case_text, mine_text, page.inner_text("body")):
            assert not CODES.search(text), CODES.search(text)
            assert not SECONDS.search(text)
        context.close()


def test_the_verifier_sees_the_photos_before_and_after_in_the_task(
    reference_data, tmp_path, settings
):
    cast = build_cast(build_territory())
    settings.MEDIA_ROOT = tmp_path
    case = report(cast.dispatcher, photos=[jpeg(color="red")])
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(
        actor=cast.worker, number=case.number, result="已清理", photos=[jpeg(color="green")]
    )
    with live_server(MEDIA_ROOT=str(tmp_path)) as url, chromium() as browser:
        context, page = phone(browser, url, "worker2")
        page.wait_for_selector(f"#tasks a[href='#task/{case.number}']")
        tasks_text = page.inner_text("#tasks")
        assert "核查" in tasks_text and not SECONDS.search(tasks_text)
        page.tap(f"#tasks a[href='#task/{case.number}']")
        page.wait_for_selector("#task-case .photos figure[data-stage=after] img")
        page.wait_for_function(
            "[...document.querySelectorAll('#task-case .photos img')]"
            ".every(img => img.complete && img.naturalWidth > 0)",
            timeout=10000,
        )
        stages = page.eval_on_selector_all(
            "#task-case .photos figure", "fs => fs.map(f => f.dataset.stage)"
        )
        assert stages == ["before", "after"]
        captions = page.inner_text("#task-case .photos")
        assert "上报时" in captions and "处置后" in captions and "worker" in captions
        assert not CODES.search(page.inner_text("#view-task"))
        page.screenshot(path=str(ARTIFACTS / "phone-task-photos.png"), full_page=True)
        context.close()


def test_the_phones_bell_counts_a_new_notification_live_and_marks_it_read(reference_data):
    from rest_framework.authtoken.models import Token

    cast = build_cast(build_territory())
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    # The triage told the worker of the new task; read already, so the bell follows the urge.
    Notification.objects.filter(user=cast.worker).update(read=True)
    task_id = services.open_task(case).pk
    leader = Token.objects.create(user=cast.leader).key
    with live_server() as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        page.wait_for_function("window.gridcaseBell && window.gridcaseBell.connected")
        assert page.inner_text("#bell-count") == "0"
        post_json(
            f"{url}/api/v1/cases/{case.number}/urge/",
            {"task_id": task_id, "note": "今天下班前办结"},
            leader,
        )
        page.wait_for_function("document.getElementById('bell-count').textContent === '1'")
        page.tap("#bell")
        page.wait_for_selector("#notifications li.unread")
        assert "今天下班前办结" in page.inner_text("#notifications")
        page.screenshot(path=str(ARTIFACTS / "phone-bell.png"))
        page.tap("#notifications li.unread a")
        page.wait_for_function("location.hash.indexOf('#case/') === 0")
        page.wait_for_function("document.getElementById('bell-count').textContent === '0'")
        context.close()
    assert not Notification.objects.filter(user=cast.worker, read=False).exists()


def test_a_shared_phone_without_signal_shows_the_next_worker_none_of_the_last_ones_tasks(
    reference_data,
):
    cast = build_cast(build_territory())
    case = report(cast.dispatcher, description="一号网格员的任务")
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    with live_server() as url, chromium() as browser:
        # No service worker: the lost signal is simulated by refusing the task list.
        context = browser.new_context(
            viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
            locale="zh-CN", service_workers="block",
        )  # fmt: skip
        page = context.new_page()
        log_in(page, url, "worker")
        page.wait_for_selector(f"#tasks a[href='#task/{case.number}']")  # kept for offline use

        context.clear_cookies()
        context.route("**/api/v1/tasks/**", lambda route: route.abort())
        log_in(page, url, "worker2")
        page.wait_for_function("document.getElementById('tasks-note').textContent !== ''")
        assert case.number not in page.inner_text("#tasks")
        assert "一号网格员的任务" not in page.inner_text("body")
        context.close()
