""" "Me too": someone reporting a problem already open nearby is offered that case, and
joins it as a supporter instead of filing a second one (API, hotline screen, triage)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cases import services
from cases.models import Attachment, Case, Notification, NotificationKind, Supporter
from tests.base import api, jpeg, logged_in, report
from tests.test_metrics import close_on_site

# In cell A1-003 of community A1, street A (1° of latitude is ~111 km).
OPEN_CASE = (114.302, 30.5503)
FORTY_METRES_NORTH = (114.302, 30.5503 + 40 / 111_320)
# 150 m east: too far to be the same problem.
TOO_FAR = (114.302 + 150 / 95_900, 30.5503)
# Community B1 of street B, 55 m south across the street border.
ACROSS_THE_BORDER = (114.302, 30.5498)


def nearby(client, point, category="0401"):
    lon, lat = point
    return client.get(f"/api/v1/cases/nearby/?category={category}&lon={lon}&lat={lat}")


def open_case(cast, **kwargs):
    return report(cast.dispatcher, point=OPEN_CASE, reporter_name="王阿姨", **kwargs)


def test_it_offers_an_open_case_of_the_same_category_forty_metres_away(cast):
    case = open_case(cast)
    offered = nearby(api(cast.worker), FORTY_METRES_NORTH).json()
    assert [o["number"] for o in offered] == [case.number]
    assert 35 <= offered[0]["distance_m"] <= 45
    assert offered[0]["supporters"] == 0


def test_it_offers_nothing_further_away_of_another_category_or_closed_or_old(cast):
    report(cast.dispatcher, point=TOO_FAR)
    report(cast.dispatcher, point=OPEN_CASE, code="0402")
    rejected = open_case(cast)
    services.case_reject(actor=cast.dispatcher, number=rejected.number, reason="invalid")
    old = open_case(cast)
    Case.objects.filter(pk=old.pk).update(reported_at=timezone.now() - timedelta(days=8))
    assert nearby(api(cast.worker), FORTY_METRES_NORTH).json() == []


def test_a_supporter_joins_the_case_with_words_and_a_photo_and_no_case_is_made(cast):
    case = open_case(cast)
    notices = Notification.objects.count()
    answer = api(cast.worker).post(
        f"/api/v1/cases/{case.number}/support/",
        {"words": "我家门口也堆着", "photos": [jpeg()], "client_id": "phone-1"},
        format="multipart",
    )
    assert answer.status_code == 201
    assert answer.json()["supporters"] == 1
    assert Case.objects.count() == 1
    entry = case.timeline.get(action="supported")
    assert entry.note == "我家门口也堆着" and entry.actor == cast.worker
    assert Attachment.objects.filter(case=case, entry=entry).count() == 1
    # Not a new task: nobody who owns the case is told anything.
    assert Notification.objects.count() == notices
    detail = api(cast.dispatcher).get(f"/api/v1/cases/{case.number}/").json()
    assert detail["supporters"] == 1
    # Already a supporter: not offered again.
    assert nearby(api(cast.worker), FORTY_METRES_NORTH).json() == []


def test_a_retried_support_counts_once(cast):
    case = open_case(cast)
    client = api(cast.worker)
    url = f"/api/v1/cases/{case.number}/support/"
    first = client.post(url, {"words": "也看到了", "client_id": "again"}, format="json")
    second = client.post(url, {"words": "也看到了", "client_id": "again"}, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    case.refresh_from_db()
    assert case.supporter_count == 1 == Supporter.objects.count()


def test_a_resident_named_by_the_dispatcher_becomes_the_supporter(cast):
    case = report(cast.worker, point=OPEN_CASE)
    api(cast.dispatcher).post(
        f"/api/v1/cases/{case.number}/support/",
        {"words": "电话反映", "reporter_name": "李先生", "reporter_phone": "13800001111",
         "source": "hotline"},
        format="json",
    )  # fmt: skip
    supporter = case.supporters.get()
    assert (supporter.user, supporter.name, supporter.source) == (None, "李先生", "hotline")


def test_the_supporter_hears_the_outcome_when_the_case_closes(cast):
    case = report(cast.dispatcher, reporter_name="王阿姨")  # in the worker's own cell
    services.case_support(actor=cast.mediator, number=case.number, words="我也看到")
    close_on_site(cast, case)
    told = Notification.objects.get(user=cast.mediator, kind=NotificationKind.CLOSED)
    assert case.number in told.text and "too" in told.text


def test_an_outsider_neither_sees_nor_supports_another_streets_case(cast):
    case = open_case(cast)
    outsider = api(cast.outsider)
    assert nearby(outsider, ACROSS_THE_BORDER).json() == []
    answer = outsider.post(f"/api/v1/cases/{case.number}/support/", {"words": "x"}, format="json")
    assert answer.status_code == 404
    assert Supporter.objects.count() == 0
    assert not case.timeline.filter(action="supported").exists()


def test_bad_input_is_refused_with_a_reason_and_writes_nothing(cast):
    case = open_case(cast)
    worker = api(cast.worker)
    url = f"/api/v1/cases/{case.number}/support/"
    too_long = worker.post(url, {"words": "长" * 4001}, format="json")
    assert too_long.status_code == 400
    no_point = worker.get("/api/v1/cases/nearby/?category=0401&lon=114.3")
    assert no_point.status_code == 400 and "lat" in no_point.json()
    unknown = nearby(worker, FORTY_METRES_NORTH, category="9898")
    assert unknown.status_code == 400 and "category" in unknown.json()
    own = api(cast.worker).post(
        f"/api/v1/cases/{report(cast.worker, point=OPEN_CASE).number}/support/",
        {"words": "again"},
        format="json",
    )
    assert own.status_code == 400 and "already" in own.json()["detail"]
    services.case_reject(actor=cast.dispatcher, number=case.number, reason="invalid")
    closed = worker.post(url, {"words": "还在"}, format="json")
    assert closed.status_code == 400 and "no longer open" in closed.json()["detail"]
    assert Supporter.objects.count() == 0
    assert not Case.objects.filter(supporter_count__gt=0).exists()


HOTLINE = {
    "category": "0401",
    "urgency": "general",
    "description": "楼下垃圾没人清",
    "lon": FORTY_METRES_NORTH[0],
    "lat": FORTY_METRES_NORTH[1],
    "source": "hotline",
    "reporter_name": "赵女士",
    "reporter_phone": "13900002222",
}


def test_the_hotline_screen_offers_the_open_case_before_reporting(cast):
    case = report(cast.worker, point=OPEN_CASE)
    desk = logged_in(cast.dispatcher)
    desk.cookies["django_language"] = "en"
    offered = desk.post("/cases/new/", HOTLINE)
    html = offered.content.decode()
    assert offered.status_code == 200
    assert case.number in html and "m from here" in html and "Add as supporter" in html
    assert Case.objects.count() == 1  # nothing written yet

    added = desk.post("/cases/new/", HOTLINE | {"support": case.number})
    assert added.status_code == 302 and added.url.endswith(f"/cases/{case.number}/")
    supporter = case.supporters.get()
    assert (supporter.name, supporter.words) == ("赵女士", "楼下垃圾没人清")
    assert Case.objects.count() == 1
    page = desk.get(added.url).content.decode()
    assert "1 resident reported this" in page


def test_the_hotline_screen_reports_a_new_case_when_asked(cast):
    report(cast.worker, point=OPEN_CASE)
    desk = logged_in(cast.dispatcher)
    answer = desk.post("/cases/new/", HOTLINE | {"report_anyway": "1"})
    assert answer.status_code == 302
    assert Case.objects.count() == 2 and Supporter.objects.count() == 0


def test_a_merged_duplicates_reporter_becomes_a_supporter_and_is_told(cast):
    kept = open_case(cast)
    duplicate = report(cast.worker, point=FORTY_METRES_NORTH, photos=[jpeg()])
    services.case_reject(
        actor=cast.dispatcher, number=duplicate.number, reason="duplicate",
        duplicate_of=kept.number,
    )  # fmt: skip
    kept.refresh_from_db()
    assert kept.supporter_count == 1
    supporter = kept.supporters.get()
    assert (supporter.user, supporter.merged_from) == (cast.worker, duplicate)
    assert supporter.words == duplicate.description
    assert kept.attachments.filter(entry=supporter.entry).count() == 1
    told = Notification.objects.get(user=cast.worker, case=duplicate, kind="closed")
    assert kept.number in told.text and "merged" in told.text


def test_the_count_shows_in_the_search_list_the_map_panel_and_the_dashboard(cast):
    case = open_case(cast)
    services.case_support(actor=cast.worker, number=case.number, words="我也看到")
    services.case_support(
        actor=cast.dispatcher, number=case.number, reporter_name="李先生", source="hotline"
    )
    # Overdue, so the leaders' desk lists it.
    Case.objects.filter(pk=case.pk).update(deadline_state="red")
    leader = logged_in(cast.leader)
    leader.cookies["django_language"] = "en"
    search = leader.get("/cases/search/", {"q": case.number}).content.decode()
    assert "3 residents reported this" in search
    assert leader.get(f"/map/cases/{case.number}.json").json()["supporters"] == 2
    desk = leader.get("/dashboard/").content.decode()
    overdue = desk[desk.index('id="overdue"') :]
    assert case.number in overdue and "3 residents reported this" in overdue
    assert 'data-figure="supporters">2<' in desk
    page = leader.get(f"/cases/{case.number}/").content.decode()
    assert "2 residents reported this too" in page and "李先生" in page
