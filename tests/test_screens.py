"""The role screens, driven over HTTP as people use them."""

from django.core.files.uploadedfile import SimpleUploadedFile

from cases import services
from cases.models import Case, ClosureReason, State
from cases.services import photos
from tests.base import POINT_B1, jpeg, report


def detail(client, case) -> str:
    return client.get(f"/cases/{case.number}/").content.decode()


def task_id(case) -> int:
    return services.open_task(Case.objects.get(pk=case.pk)).pk


def act(client, user, case, action, **data):
    client.force_login(user)
    return client.post(
        f"/cases/{case.number}/{action}/", {"task_id": task_id(case), **data}, follow=True
    )


def test_on_site_handling_end_to_end_over_http(client, cast, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(cast.dispatcher)
    lon, lat = 114.302, 30.558
    response = client.post(
        "/cases/new/",
        {
            "category": "0401",
            "urgency": "general",
            "description": "楼道堆物",
            "lon": lon,
            "lat": lat,
            "source": "hotline",
            "reporter_name": "赵六",
        },
        follow=True,
    )
    case = Case.objects.get()
    assert case.number in response.content.decode()
    assert case.source == "hotline"

    act(client, cast.dispatcher, case, "triage", route="onsite", category="0401", urgency="general")
    act(client, cast.worker, case, "handle", result="已清理", photos=[jpeg()])
    act(client, cast.worker2, case, "verify", passed="true")
    page = act(
        client,
        cast.dispatcher,
        case,
        "return_visit",
        satisfaction="satisfied",
        words="满意",
        reopen="on",
    ).content.decode()
    case.refresh_from_db()
    assert case.state == State.CLOSED
    assert "已结案" in page
    assert case.attachments.count() == 1
    assert [e.action for e in case.timeline.all()] == [
        "reported",
        "triaged",
        "handled",
        "verified",
        "closed",
    ]


def test_the_detail_page_shows_what_the_user_may_do(client, cast):
    case = report(cast.worker, code="0101", parties=[{"name": "王五", "phone": "13911112222"}])
    client.force_login(cast.dispatcher)
    html = detail(client, case)
    assert f'action="/cases/{case.number}/triage/"' in html
    assert "13911112222" in html
    client.force_login(cast.leader)
    html = detail(client, case)
    assert f'action="/cases/{case.number}/triage/"' not in html
    assert "王五" in html and "13911112222" not in html


def test_a_duplicate_is_merged_with_the_bulk_action(client, cast):
    original = report(cast.worker)
    duplicate = report(cast.worker2)
    client.force_login(cast.dispatcher)
    assert original.number in detail(client, duplicate)  # offered as a possible duplicate
    client.post(
        "/cases/triage/bulk/",
        {
            "numbers": [duplicate.number],
            "action": "merge",
            "duplicate_of": original.number,
        },
    )
    duplicate.refresh_from_db()
    assert duplicate.state == State.REJECTED
    assert duplicate.closure_reason == ClosureReason.DUPLICATE
    assert duplicate.merged_into == original
    assert original.timeline.filter(action="merged").exists()


def test_bulk_actions_report_each_refusal_without_undoing_the_rest(client, cast):
    a, b = report(cast.worker), report(cast.worker)
    client.force_login(cast.dispatcher)
    response = client.post(
        "/cases/triage/bulk/",
        {
            "numbers": [a.number, b.number],
            "action": "merge",
            "duplicate_of": a.number,
        },
        follow=True,
    )
    html = response.content.decode()
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.state == State.TRIAGE  # a case cannot duplicate itself: refused
    assert b.state == State.REJECTED
    assert a.number in html and b.number in html


def test_a_stale_form_submitted_twice_is_refused_and_changes_nothing(client, cast):
    case = report(cast.worker)
    client.force_login(cast.dispatcher)
    stale = task_id(case)
    client.post(
        f"/cases/{case.number}/triage/", {"task_id": stale, "route": "onsite", "urgency": "general"}
    )
    entries = case.timeline.count()
    client.cookies["django_language"] = "en"
    response = client.post(
        f"/cases/{case.number}/triage/",
        {"task_id": stale, "route": "mediation", "urgency": "general"},
        follow=True,
    )
    assert "not possible now" in response.content.decode()
    case.refresh_from_db()
    assert case.state == State.ONSITE
    assert case.timeline.count() == entries


def test_a_missing_field_is_a_form_error_and_writes_nothing(client, cast):
    case = report(cast.worker)
    act(client, cast.dispatcher, case, "triage", route="onsite", urgency="general")
    client.force_login(cast.worker)
    response = client.post(f"/cases/{case.number}/handle/", {"task_id": task_id(case)})
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    case.refresh_from_db()
    assert case.state == State.ONSITE


def test_a_non_image_or_oversize_photo_is_refused(client, cast, monkeypatch):
    case = report(cast.worker)
    act(client, cast.dispatcher, case, "triage", route="onsite", urgency="general")
    client.cookies["django_language"] = "en"
    fake = SimpleUploadedFile("x.jpg", b"%PDF-1.4 not an image", content_type="image/jpeg")
    html = act(client, cast.worker, case, "handle", result="x", photos=[fake]).content.decode()
    assert "not an image" in html
    monkeypatch.setattr(photos, "MAX_PHOTO_BYTES", 100)
    html = act(
        client, cast.worker, case, "handle", result="x", photos=[jpeg((200, 200))]
    ).content.decode()
    assert "larger than" in html
    case.refresh_from_db()
    assert case.state == State.ONSITE
    assert case.attachments.count() == 0


def test_an_outsider_gets_404_on_the_page_and_on_every_post(client, cast):
    case = report(cast.worker)
    client.force_login(cast.outsider)
    assert client.get(f"/cases/{case.number}/").status_code == 404
    response = client.post(
        f"/cases/{case.number}/triage/", {"task_id": task_id(case), "route": "onsite"}
    )
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.state == State.TRIAGE


def test_my_tasks_lists_what_each_role_may_take(client, cast):
    waiting = report(cast.worker)
    onsite = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=onsite.number, route="onsite")
    b_case = report(cast.outsider, point=POINT_B1)

    def numbers(user) -> set[str]:
        client.force_login(user)
        html = client.get("/cases/tasks/").content.decode()
        return {n for n in (waiting.number, onsite.number, b_case.number) if n in html}

    assert numbers(cast.dispatcher) == {waiting.number}
    assert numbers(cast.worker) == {onsite.number}
    assert numbers(cast.outsider) == {b_case.number}
    assert numbers(cast.leader) == set()
    services.task_claim(actor=cast.worker2, number=onsite.number)
    assert numbers(cast.worker) == set()  # claimed by someone else
    assert numbers(cast.worker2) == {onsite.number}


def test_claim_and_unclaim_from_the_task_list(client, cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    act(client, cast.worker, case, "claim")
    assert services.open_task(case).owner == cast.worker
    act(client, cast.worker, case, "unclaim")
    assert services.open_task(case).owner is None


def test_the_triage_queue_puts_overdue_first_then_newest(client, cast):
    old = report(cast.worker)
    overdue = report(cast.worker)
    newest = report(cast.worker)
    Case.objects.filter(pk=overdue.pk).update(deadline_state="red")
    client.force_login(cast.dispatcher)
    html = client.get("/cases/triage/").content.decode()
    positions = [html.index(c.number) for c in (overdue, newest, old)]
    assert positions == sorted(positions)


def test_queues_need_a_constant_number_of_queries(client, cast, django_assert_max_num_queries):
    for _ in range(20):
        report(cast.worker)
    client.force_login(cast.dispatcher)
    with django_assert_max_num_queries(14):
        assert client.get("/cases/triage/").content.decode().count("<tr class") == 20
    with django_assert_max_num_queries(14):
        assert client.get("/cases/tasks/").content.decode().count("<tr class") == 20


def test_screens_speak_chinese_by_default_and_english_on_request(client, cast):
    case = report(cast.worker)
    client.force_login(cast.dispatcher)
    assert "受理队列" in client.get("/cases/triage/").content.decode()
    assert "待受理" in detail(client, case)
    client.cookies["django_language"] = "en"
    assert "Triage queue" in client.get("/cases/triage/").content.decode()
    assert "Awaiting triage" in detail(client, case)
