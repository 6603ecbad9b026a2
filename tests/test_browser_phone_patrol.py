"""Patrols (巡查) and the work diary (民情日志) on the phone, in a real browser.

A 360×640 touch screen walks a path with simulated GPS while offline, checks
in at two key places, logs a case, survives a reload, and the whole patrol
arrives exactly once when the signal returns. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import math
import re

import pytest
from django.contrib.gis.geos import Point
from django.test import Client

from cases.calendar import CHINA
from cases.models import Case
from tests.base import POINT_A1_001, build_cast, build_territory
from tests.live import ROOT, chromium, live_server
from tests.test_browser_phone import CODES, log_in, phone, photo

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "test-artifacts"

# A walk inside cell 420106002001001 (114.300–114.305 × 30.555–30.560), lon/lat.
PATH = [
    POINT_A1_001,  # (114.302, 30.558): next to the school gate
    (114.3030, 30.5580),
    (114.3030, 30.5590),
    (114.3040, 30.5590),  # at the fire lane
    (114.3040, 30.5580),
]
SCHOOL = (114.3021, 30.5581)
FIRE_LANE = (114.3041, 30.5590)
# Codes a worker must never read in zh-Hans on the new views (place kinds, outbox states).
PATROL_CODES = re.compile(r"\b(school|fire_exit|pending|refused|patrol|diary)\b")
# Nor any English word: these views show only Chinese, numbers and case numbers.
ENGLISH = re.compile(r"[A-Za-z]{3,}")


def metres(a, b) -> float:
    rad = math.pi / 180
    h = (
        math.sin((b[1] - a[1]) * rad / 2) ** 2
        + math.cos(a[1] * rad) * math.cos(b[1] * rad) * math.sin((b[0] - a[0]) * rad / 2) ** 2
    )
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


def key_places():
    from patrols.models import KeyPlace, PlaceKind
    from patrols.services import place_save

    school = place_save(
        KeyPlace(name="实验小学南门", kind=PlaceKind.SCHOOL, point=Point(*SCHOOL, srid=4326))
    )
    lane = place_save(
        KeyPlace(name="3号楼消防通道", kind=PlaceKind.FIRE_EXIT, point=Point(*FIRE_LANE, srid=4326))
    )
    return school, lane


def walk_to(context, page, lon_lat, points: int) -> None:
    """Move the phone and wait until the patrol has recorded `points` positions."""
    context.set_geolocation({"longitude": lon_lat[0], "latitude": lon_lat[1], "accuracy": 5})
    page.wait_for_function(
        f"document.getElementById('patrol-points').textContent.indexOf('{points}') === 0"
    )


def check_in(page, place) -> None:
    button = f"#places li[data-place='{place.pk}'] button[data-check-in]:not([disabled])"
    page.wait_for_selector(button)
    page.tap(button)
    page.wait_for_selector(f"#places li[data-place='{place.pk}'][data-checked]")


def test_an_offline_patrol_with_check_ins_and_a_case_arrives_exactly_once(reference_data):
    from patrols.models import Patrol

    cast = build_cast(build_territory())
    school, lane = key_places()
    ARTIFACTS.mkdir(exist_ok=True)
    with live_server(PATROL_POSITION_SECONDS="1") as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        sent = []  # the patrol's request as the phone sent it, to be retried below
        page.on(
            "request",
            lambda r: (
                sent.append(r.post_data)
                if r.method == "POST" and r.url.endswith("/api/v1/patrols/")
                else None
            ),
        )
        # Online once: the key places are fetched and kept for the patrol offline.
        page.tap("#patrol-link")
        page.wait_for_selector(f"#places li[data-place='{lane.pk}']", state="attached")
        page.wait_for_function("navigator.serviceWorker.controller !== null")  # the shell is cached
        context.set_offline(True)
        page.wait_for_function("document.getElementById('net').dataset.online === 'false'")

        page.tap("#patrol-begin")
        page.wait_for_selector("#patrol-running:not([hidden])")
        assert "息屏" in page.inner_text("#patrol-screen")  # no background tracking, said plainly
        page.wait_for_function("document.getElementById('wake').textContent !== ''")
        walk_to(context, page, PATH[0], 1)
        # Nearest first, with its distance; the far place cannot be checked in yet.
        names = page.eval_on_selector_all("#places li b", "bs => bs.map(b => b.textContent)")
        assert names == ["实验小学南门", "3号楼消防通道"]
        assert page.is_disabled(f"#places li[data-place='{lane.pk}'] button")
        check_in(page, school)
        walk_to(context, page, PATH[1], 2)
        walk_to(context, page, PATH[2], 3)
        walk_to(context, page, PATH[3], 4)
        check_in(page, lane)
        page.screenshot(path=str(ARTIFACTS / "phone-patrol.png"), full_page=True)

        # A case found on the way: the normal report form, back to the patrol after.
        page.tap("#patrol-report")
        page.wait_for_function("document.querySelector('#report-form [name=lon]').value !== ''")
        page.select_option("#category", "0401")
        page.fill("textarea[name=description]", "消防通道堆放杂物")
        page.tap("#report-form button[type=submit]")
        page.wait_for_function("location.hash === '#patrol'")

        # A reload (the service worker serves the page offline) resumes the patrol.
        page.reload()
        page.wait_for_function("window.gridcasePhone !== undefined")
        page.evaluate("location.hash = '#patrol'")
        page.wait_for_selector("#patrol-running:not([hidden])")
        assert page.inner_text("#patrol-points").startswith("4")
        assert page.locator("#places li[data-checked]").count() == 2
        walk_to(context, page, PATH[4], 5)
        patrol_text = page.inner_text("#view-patrol")

        page.tap("#patrol-end")
        page.wait_for_function("location.hash === '#home'")
        page.wait_for_selector("#notice:not([hidden])")
        assert "联网后自动发送" in page.inner_text("#notice")
        page.evaluate("location.hash = '#outbox'")
        page.wait_for_function("document.querySelectorAll('#outbox li').length === 2")
        outbox_text = page.inner_text("#view-outbox")

        context.set_offline(False)
        page.wait_for_function(
            "document.querySelectorAll('#outbox li').length === 0", timeout=20000
        )
        # Another flush, a reload and a retried request find nothing new to record.
        done = page.evaluate("window.gridcasePhone.flushesDone")
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_function(f"window.gridcasePhone.flushesDone > {done}")
        page.reload()
        page.wait_for_function("window.gridcasePhone.flushesDone > 0")
        assert len(sent) == 1
        retried = page.evaluate(
            """async (body) => {
                const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
                const r = await fetch('/api/v1/patrols/', {method: 'POST', body: body,
                    headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf}});
                return [r.status, (await r.json()).created];
            }""",
            sent[0],
        )
        assert retried == [200, False]

        page.evaluate("location.hash = '#patrols'")
        page.wait_for_selector("#patrols li[data-id]")
        mine_text = page.inner_text("#view-patrols")
        assert "签到 2" in mine_text
        linked = page.eval_on_selector_all(
            "#patrols li a[href^='#case/']", "links => links.map(a => a.textContent)"
        )
        page.screenshot(path=str(ARTIFACTS / "phone-my-patrols.png"))
        for text in (patrol_text, outbox_text, mine_text):
            assert not PATROL_CODES.search(text), PATROL_CODES.search(text)
            assert not CODES.search(text), CODES.search(text)
            assert not ENGLISH.search(text), ENGLISH.search(text)
        context.close()

    patrol = Patrol.objects.get()
    assert patrol.worker == cast.worker
    assert patrol.check_ins.count() == 2
    assert {c.place for c in patrol.check_ins.all()} == {school, lane}
    case = Case.objects.get(description="消防通道堆放杂物")
    assert [link.case for link in patrol.case_links.all()] == [case]
    assert linked == [case.number]  # 我的巡查 shows the case found on it
    walked = sum(metres(a, b) for a, b in zip(PATH, PATH[1:], strict=False))
    assert abs(patrol.length_m - walked) < 0.02 * walked
    assert "420106002001001" in [c.code for c in patrol.cells.all()]

    # The leader sees it on the live map's patrol layer and in the per-worker table.
    leader = Client()
    leader.force_login(cast.leader)
    day = patrol.started_at.astimezone(CHINA).date().isoformat()
    layer = leader.get("/map/patrols.json", {"date": day}).json()
    tracks = [f for f in layer["features"] if f["properties"]["kind"] == "patrol"]
    assert [f["properties"]["patrol"] for f in tracks] == [patrol.pk]
    assert tracks[0]["properties"]["length_m"] == pytest.approx(walked, rel=0.02)
    assert len(tracks[0]["geometry"]["coordinates"]) == len(PATH)
    places = [
        f["properties"]["place"]
        for f in layer["features"]
        if f["properties"]["kind"] == "check_in" and f["properties"]["patrol"] == patrol.pk
    ]
    assert sorted(places) == sorted([school.name, lane.name])
    answer = leader.get("/patrols/workers/", {"period": "month", "at": day, "format": "csv"})
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(answer.content.decode("utf-8-sig")))}
    # patrols, km, hours, cells, check-ins, cases found
    patrols, km, _hours, cells, check_ins, found = rows["worker"][:6]
    assert (patrols, cells, check_ins, found) == ("1", "1", "2", "1")
    assert float(km) == pytest.approx(walked / 1000, abs=0.01)


def test_a_diary_entry_with_a_photo_made_offline_is_sent_once(reference_data, tmp_path, settings):
    from diary.models import DiaryEntry

    territory = build_territory()
    cast = build_cast(territory)
    settings.MEDIA_ROOT = tmp_path
    with live_server(MEDIA_ROOT=str(tmp_path)) as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        page.tap("a[href='#diary']")
        page.wait_for_selector("#diary-list li")  # the (empty) list from the server
        context.set_offline(True)
        page.wait_for_function("document.getElementById('net').dataset.online === 'false'")
        page.fill("#diary-form textarea[name=text]", "走访3号楼王阿姨，反映楼道灯坏了")
        page.fill("#diary-form input[name=place]", "3号楼2单元301")
        page.set_input_files("#diary-photos", photo(tmp_path))
        page.wait_for_function("window.gridcasePhone.diaryPhotos === 1")
        page.check("#diary-position")
        page.wait_for_function("window.gridcasePhone.diaryPosition")
        page.tap("#diary-form button[type=submit]")
        page.wait_for_selector("#notice:not([hidden])")
        assert "有信号时" in page.inner_text("#notice")
        assert page.inner_text("#outbox-count") == "1"

        context.set_offline(False)
        page.wait_for_function("document.getElementById('outbox-count').textContent === '0'")
        done = page.evaluate("window.gridcasePhone.flushesDone")
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_function(f"window.gridcasePhone.flushesDone > {done}")
        page.evaluate("location.hash = '#home'")
        page.evaluate("location.hash = '#diary'")
        page.wait_for_selector("#diary-list li[data-id] img")
        page.wait_for_function(
            "document.querySelector('#diary-list li img').naturalWidth > 0", timeout=10000
        )
        diary_text = page.inner_text("#view-diary")
        assert "王阿姨" in diary_text and "3号楼2单元301" in diary_text
        assert not PATROL_CODES.search(diary_text) and not CODES.search(diary_text)
        assert not ENGLISH.search(diary_text), ENGLISH.search(diary_text)
        page.screenshot(path=str(ARTIFACTS / "phone-diary.png"), full_page=True)
        context.close()

    entry = DiaryEntry.objects.get()
    assert entry.author == cast.worker and entry.place == "3号楼2单元301"
    assert entry.photos.count() == 1
    assert entry.point is not None and entry.community == territory.a1


def test_a_patrol_running_on_a_shared_phone_is_its_workers_own(reference_data):
    build_cast(build_territory())
    key_places()
    with live_server(PATROL_POSITION_SECONDS="1") as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        page.tap("#patrol-link")
        page.tap("#patrol-begin")
        page.wait_for_selector("#patrol-running:not([hidden])")
        context.clear_cookies()
        log_in(page, url, "worker2")
        assert page.inner_text("#patrol-link") == "开始巡查"
        page.evaluate("location.hash = '#patrol'")
        page.wait_for_selector("#patrol-idle:not([hidden])")
        context.close()


def in_another_thread(fn):
    """Run database work while Playwright's loop owns this thread (Django refuses it here)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def run():
        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def test_a_refused_patrol_stays_in_the_outbox_with_the_reason(reference_data):
    from patrols.models import KeyPlace, Patrol

    build_cast(build_territory())
    school, _lane = key_places()
    with live_server(PATROL_POSITION_SECONDS="1") as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        page.tap("#patrol-link")
        page.wait_for_selector(f"#places li[data-place='{school.pk}']", state="attached")
        context.set_offline(True)
        page.wait_for_function("document.getElementById('net').dataset.online === 'false'")
        page.tap("#patrol-begin")
        walk_to(context, page, PATH[0], 1)
        check_in(page, school)
        walk_to(context, page, PATH[1], 2)
        page.tap("#patrol-end")
        page.wait_for_selector("#notice:not([hidden])")
        # Meanwhile the administrator retires the place the worker checked in at.
        in_another_thread(lambda: KeyPlace.objects.filter(pk=school.pk).update(active=False))
        context.set_offline(False)
        page.evaluate("location.hash = '#outbox'")
        refused = "#outbox li[data-kind=patrol][data-status=refused]"
        page.wait_for_selector(refused, timeout=20000)
        assert str(school.pk) in page.inner_text(refused)  # the server's reason, shown
        page.reload()
        page.evaluate("location.hash = '#outbox'")
        page.wait_for_selector(refused)
        assert page.inner_text("#outbox-count") == "1"
        page.screenshot(path=str(ARTIFACTS / "phone-refused-patrol.png"))
        context.close()
    assert not Patrol.objects.exists()


def test_a_patrol_ended_with_signal_shows_the_servers_figures(reference_data):
    from patrols.models import Patrol

    build_cast(build_territory())
    with live_server(PATROL_POSITION_SECONDS="1") as url, chromium() as browser:
        context, page = phone(browser, url, "worker")
        page.tap("#patrol-link")
        page.tap("#patrol-begin")
        walk_to(context, page, PATH[0], 1)
        walk_to(context, page, PATH[1], 2)
        page.tap("#patrol-end")
        page.wait_for_function(
            "document.getElementById('notice').textContent.indexOf('巡查已上传') === 0",
            timeout=10000,
        )
        notice = page.inner_text("#notice")
        assert page.inner_text("#patrol-link") == "开始巡查"
        context.close()
    patrol = Patrol.objects.get()
    assert f"里程 {round(patrol.length_m)} 米" in notice and "签到 0 处" in notice
