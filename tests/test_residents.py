"""Residents follow their own case with its number and code, and rate it (回访反馈);
their phone number is for those who call back, and every full display is logged."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import Case, ClosureReason, PhoneDisclosure, Satisfaction, State
from cases.services import residents
from tests.base import POINT_A1_001, api, logged_in, report

PHONE = "13812345678"


def hotline_case(cast, **kwargs) -> Case:
    fields = dict(
        source="hotline", reporter_name="赵居民", reporter_phone=PHONE, reporter_consent=True
    )
    return report(cast.dispatcher, **(fields | kwargs))


def to_return_visit(cast, case: Case) -> Case:
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(
        actor=cast.worker, number=case.number, result="已清理，内部备注：找了李师傅"
    )
    services.case_verify(actor=cast.worker2, number=case.number, passed=True)
    return Case.objects.get(pk=case.pk)


def resident_page(client: Client, case: Case):
    return client.get(reverse("resident:case", kwargs={"token": residents.link_token(case)}))


def look_up(client: Client, number: str, code: str):
    return client.post(reverse("resident:lookup"), {"number": number, "code": code})


def test_every_case_gets_an_access_code_a_resident_can_read_aloud(cast):
    case = hotline_case(cast)
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{6}", case.access_code)
    assert hotline_case(cast).access_code != case.access_code


def test_the_hotline_screen_tells_the_number_and_the_code(cast):
    lon, lat = POINT_A1_001
    form = {
        "category": "0401", "description": "楼下垃圾", "lon": lon, "lat": lat,
        "source": "hotline", "urgency": "general", "reporter_name": "赵居民",
        "reporter_phone": PHONE, "reporter_consent": "on",
    }  # fmt: skip
    response = logged_in(cast.dispatcher).post("/cases/new/", form, follow=True)
    case = Case.objects.get()
    assert case.reporter_consent
    text = response.content.decode()
    assert case.number in text and case.access_code in text and "/r/" in text


def test_the_api_gives_back_the_code_and_the_residents_link(cast):
    lon, lat = POINT_A1_001
    body = {"category": "0401", "description": "楼下垃圾", "lon": lon, "lat": lat}
    answer = api(cast.dispatcher).post("/api/v1/cases/", body, format="json").json()
    case = Case.objects.get(number=answer["number"])
    assert answer["access_code"] == case.access_code
    assert Client().get(answer["resident_url"]).status_code == 200


def test_the_number_and_code_open_the_residents_page(cast):
    case = hotline_case(cast)
    client = Client()
    response = look_up(client, case.number, case.access_code.lower())
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert case.number in page.content.decode()


def test_a_wrong_code_answers_exactly_as_an_unknown_number(cast):
    case = hotline_case(cast)
    wrong = look_up(Client(), case.number, "ZZZZZZ")
    unknown = look_up(Client(), "420106002-20000101-9999", "ZZZZZZ")
    assert wrong.status_code == unknown.status_code == 400
    strip = re.compile(r'name="(number|csrfmiddlewaretoken)" value="[^"]*"')
    assert strip.sub("", wrong.content.decode()) == strip.sub("", unknown.content.decode())


def test_wrong_codes_are_rate_limited_per_address_and_per_case(cast, settings):
    settings.RESIDENT_LOOKUP_RATE = "3/hour"
    case = hotline_case(cast)
    client = Client()
    for _ in range(3):
        assert look_up(client, case.number, "ZZZZZZ").status_code == 400
    # Locked out: even the right code is refused now.
    assert look_up(client, case.number, case.access_code).status_code == 429
    # Another address guessing the same case is refused too.
    other = Client(REMOTE_ADDR="10.1.2.3")
    assert look_up(other, case.number, case.access_code).status_code == 429
    # The signed link is not a guess: it still opens.
    assert resident_page(client, case).status_code == 200


def test_a_forged_link_is_a_404(cast):
    case = hotline_case(cast)
    token = residents.link_token(case)
    assert Client().get(f"/r/{token[:-2]}xx/").status_code == 404


def test_the_page_speaks_plain_words_and_shows_nothing_personal(cast):
    case = hotline_case(cast, code="0101", parties=[{"name": "钱当事", "phone": "13700001111"}])
    services.case_triage(actor=cast.dispatcher, number=case.number, route="mediation")
    page = resident_page(Client(HTTP_ACCEPT_LANGUAGE="en"), case).content.decode()
    assert "Your report was received." in page and "Accepted: the case is open." in page
    assert "this step is due by" in page
    for private in ("赵居民", PHONE, "钱当事", "13700001111", case.description, "mediation"):
        assert private not in page


def test_the_page_shows_the_result_photos_and_not_the_reporters(cast, settings, tmp_path):
    from tests.base import jpeg

    settings.MEDIA_ROOT = tmp_path
    case = hotline_case(cast, photos=[jpeg(color="blue")])
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(
        actor=cast.worker, number=case.number, result="已清理", photos=[jpeg(color="green")]
    )
    reporters, result = case.attachments.order_by("pk")
    client = Client()
    page = resident_page(client, case).content.decode()
    token = residents.link_token(case)
    assert f"/r/{token}/photos/{result.pk}" in page
    assert f"/photos/{reporters.pk}" not in page
    assert client.get(f"/r/{token}/photos/{result.pk}").status_code == 200
    assert client.get(f"/r/{token}/photos/{reporters.pk}").status_code == 404


def test_the_residents_rating_is_the_return_visit_and_feeds_the_metrics(cast):
    case = to_return_visit(cast, hotline_case(cast))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert "Rate the outcome" in resident_page(client, case).content.decode()
    token = residents.link_token(case)
    answer = client.post(f"/r/{token}/", {"satisfaction": "satisfied", "words": "很快"})
    assert answer.status_code == 302
    case.refresh_from_db()
    assert case.state == State.CLOSED and case.closure_reason == ClosureReason.RESOLVED
    assert case.satisfaction == Satisfaction.SATISFIED
    closed = case.timeline.get(action="closed")
    assert closed.actor.username == residents.RESIDENT_USERNAME and closed.note == "很快"
    now = timezone.now()
    figures = (
        api(cast.leader)
        .get(
            "/api/v1/metrics/",
            {
                "start": (now - timedelta(days=1)).isoformat(),
                "end": (now + timedelta(days=1)).isoformat(),
            },
        )
        .json()
    )
    (unit,) = figures["units"]
    assert unit["satisfaction_rate"] == 1.0
    # Rated once: the page no longer offers it.
    assert "Rate the outcome" not in resident_page(client, case).content.decode()


def test_an_unsatisfied_resident_reopens_the_case_as_a_workers_call_would(cast):
    case = to_return_visit(cast, hotline_case(cast))
    services.case_resident_rate(number=case.number, satisfaction="unsatisfied", words="没弄好")
    case.refresh_from_db()
    assert case.state == State.ONSITE and case.reopen_count == 1
    # Handled again and closed by a worker's call: the resident may rate this round too.
    services.case_handle(actor=cast.worker, number=case.number, result="重新清理")
    services.case_verify(actor=cast.worker2, number=case.number, passed=True)
    services.case_return_visit(actor=cast.dispatcher, number=case.number, satisfaction="basic")
    services.case_resident_rate(number=case.number, satisfaction="satisfied")
    case.refresh_from_db()
    assert (case.satisfaction, case.resident_satisfaction) == ("basic", "satisfied")


def test_the_handler_cannot_rate_their_own_work_as_the_resident(cast):
    case = to_return_visit(cast, hotline_case(cast))
    # The handler is not given the code or the link ...
    assert api(cast.worker).get(f"/api/v1/cases/{case.number}/").json()["resident_url"] is None
    assert (
        case.access_code
        not in logged_in(cast.worker).get(f"/cases/{case.number}/").content.decode()
    )
    # ... and a link that reached them anyway does not take their rating.
    handler = logged_in(cast.worker)
    answer = handler.post(f"/r/{residents.link_token(case)}/", {"satisfaction": "satisfied"})
    assert answer.status_code == 400
    assert Case.objects.get(pk=case.pk).state == State.RETURN_VISIT
    # The hotline dispatcher who took the report has them, to tell the resident again.
    assert api(cast.dispatcher).get(f"/api/v1/cases/{case.number}/").json()["access_code"]


def test_after_a_workers_call_the_residents_own_rating_is_recorded_beside_it(cast):
    case = to_return_visit(cast, hotline_case(cast))
    services.case_return_visit(actor=cast.dispatcher, number=case.number, satisfaction="basic")
    services.case_resident_rate(number=case.number, satisfaction="unsatisfied", words="其实没修好")
    case.refresh_from_db()
    assert case.state == State.CLOSED
    assert (case.satisfaction, case.resident_satisfaction) == ("basic", "unsatisfied")
    assert case.timeline.filter(action="resident_rated").exists()
    with pytest.raises(services.ServiceError, match="cannot be rated now"):
        services.case_resident_rate(number=case.number, satisfaction="satisfied")


def test_a_case_not_yet_at_the_return_visit_cannot_be_rated(cast):
    case = hotline_case(cast)
    with pytest.raises(services.ServiceError, match="cannot be rated now"):
        services.case_resident_rate(number=case.number, satisfaction="satisfied")
    token = residents.link_token(case)
    assert Client().post(f"/r/{token}/", {"satisfaction": "satisfied"}).status_code == 400
    assert Case.objects.get(pk=case.pk).state == State.TRIAGE


def test_the_phone_is_shown_to_who_calls_back_and_masked_for_everyone_else(cast):
    case = to_return_visit(cast, hotline_case(cast))
    # The return visit's owners (the cell's other worker, the dispatcher), the handler.
    for caller in (cast.dispatcher, cast.worker):
        assert PHONE in logged_in(caller).get(f"/cases/{case.number}/").content.decode()
    assert api(cast.dispatcher).get(f"/api/v1/cases/{case.number}/").json()["reporter"] == {
        "name": "赵居民", "phone": PHONE, "consent": True,
    }  # fmt: skip
    for other in (cast.leader, cast.coordinator):
        page = logged_in(other).get(f"/cases/{case.number}/").content.decode()
        assert PHONE not in page and "138*****678" not in page and "138****5678" in page
        assert api(other).get(f"/api/v1/cases/{case.number}/").json()["reporter"]["phone"] == (
            "138****5678"
        )
    shown = PhoneDisclosure.objects.filter(case=case)
    assert sorted(shown.values_list("user__username", "via")) == sorted(
        [
            (cast.dispatcher.username, "page"),
            (cast.worker.username, "page"),
            (cast.dispatcher.username, "api"),
        ]
    )


def test_a_phone_is_masked_to_the_last_four_digits():
    assert residents.masked("13812345678") == "138****5678"
    assert residents.masked("027-8888123") == "027****8123"
    assert residents.masked("88881234") == "8***1234"
    assert residents.masked("123") == "***"
