""" "Me too" on the phone, in a real browser (360×640): before a report is sent, an
open case of the same kind nearby is offered with its distance; adding to it makes
the worker a supporter, not a second case. Without signal the report goes as usual."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from cases import services
from cases.models import Case, Supporter
from tests.base import build_cast, build_territory, report
from tests.live import chromium, live_server
from tests.test_browser_phone import ARTIFACTS, LAT, LON, phone, photo

pytestmark = pytest.mark.browser
# 30 m north of the phone's position, in the same cell.
THIRTY_METRES_NORTH = (LON, LAT + 30 / 111_320)


def fill_report(page, text: str, photo_path: str | None = None) -> None:
    page.tap("a[href='#report']")
    page.wait_for_function("document.querySelector('#report-form [name=lon]').value !== ''")
    page.select_option("#category", "0401")
    page.fill("textarea[name=description]", text)
    if photo_path:
        page.set_input_files("#photos", photo_path)
        page.wait_for_function("window.gridcasePhone.photos.length === 1")
    page.tap("#report-form button[type=submit]")


def test_a_worker_adds_their_report_to_the_open_case_nearby(reference_data, tmp_path, settings):
    cast = build_cast(build_territory())
    settings.MEDIA_ROOT = tmp_path
    ARTIFACTS.mkdir(exist_ok=True)
    case = report(cast.dispatcher, point=THIRTY_METRES_NORTH, reporter_name="王阿姨")
    with live_server(MEDIA_ROOT=str(tmp_path)) as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        fill_report(page, "这里也堆着", photo(tmp_path))
        page.wait_for_selector("#me-too:not([hidden]) [data-support]")
        offer = page.inner_text("#me-too")
        assert "30" in offer and case.number in offer
        page.screenshot(path=str(ARTIFACTS / "phone-me-too.png"))
        page.tap(f"[data-support='{case.number}']")
        page.wait_for_function("location.hash === '#home'")
        page.wait_for_selector("#notice:not([hidden]) a")
        assert case.number in page.inner_text("#notice")
        context.close()
    assert Case.objects.count() == 1
    supporter = Supporter.objects.get()
    assert (supporter.case, supporter.user, supporter.words) == (case, cast.worker, "这里也堆着")
    assert case.attachments.filter(entry=supporter.entry).count() == 1


def test_a_worker_may_report_a_new_case_instead_and_offline_nothing_is_asked(reference_data):
    cast = build_cast(build_territory())
    report(cast.dispatcher, point=THIRTY_METRES_NORTH, reporter_name="王阿姨")
    with live_server() as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        fill_report(page, "不是同一处")
        page.wait_for_selector("#me-too:not([hidden]) #me-too-new")
        page.tap("#me-too-new")
        page.wait_for_function("window.gridcasePhone.lastSent !== undefined", timeout=10000)
        context.set_offline(True)
        page.wait_for_function("document.getElementById('net').dataset.online === 'false'")
        fill_report(page, "离线也照常上报")
        page.wait_for_function("location.hash === '#home'")
        assert page.is_hidden("#me-too")
        context.set_offline(False)
        page.wait_for_function(
            "document.querySelectorAll('#outbox li').length === 0", timeout=20000
        )
        context.close()
    assert Case.objects.count() == 3 and Supporter.objects.count() == 0


def reject(actor, number: str) -> None:
    try:
        services.case_reject(actor=actor, number=number, reason="invalid")
    finally:
        connection.close()


def test_a_support_refused_because_the_case_closed_returns_to_the_report(reference_data):
    cast = build_cast(build_territory())
    case = report(cast.dispatcher, point=THIRTY_METRES_NORTH, reporter_name="王阿姨")
    with live_server() as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        fill_report(page, "刚刚又看到")
        page.wait_for_selector("#me-too:not([hidden]) [data-support]")
        # Meanwhile the dispatcher rejects the case at triage (from another thread:
        # the browser's driver keeps an event loop in this one).
        rejecting = threading.Thread(target=reject, args=(cast.dispatcher, case.number))
        rejecting.start()
        rejecting.join()
        page.tap(f"[data-support='{case.number}']")
        page.wait_for_selector("#report-error:not([hidden])")
        assert case.number in page.inner_text("#report-error")  # why, in the server's words
        assert page.input_value("textarea[name=description]") == "刚刚又看到"
        page.tap("#report-form button[type=submit]")
        page.wait_for_function("window.gridcasePhone.lastSent !== undefined", timeout=10000)
        context.close()
    assert Supporter.objects.count() == 0
    assert Case.objects.get(pk=case.pk).state == "rejected"
    assert Case.objects.filter(description="刚刚又看到").exists()
