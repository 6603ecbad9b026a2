"""What the phone's outbox relies on: retries are harmless and refusals say why."""

from cases import services
from cases.models import Case, State
from tests.base import api, body, report


def test_the_same_client_id_twice_makes_one_case_and_the_second_answer_says_so(cast):
    client = api(cast.worker)
    first = client.post("/api/v1/cases/", body(client_id="phone-42"), format="multipart")
    again = client.post("/api/v1/cases/", body(client_id="phone-42"), format="multipart")
    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (again.status_code, again.json()["created"]) == (200, False)
    assert again.json()["number"] == first.json()["number"]
    assert Case.objects.count() == 1


def test_a_retried_step_completes_the_task_once(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    client = api(cast.worker)
    task_id = services.open_task(case).pk
    step = {"task_id": task_id, "client_id": "phone-step-1", "result": "已清理"}
    first = client.post(f"/api/v1/cases/{case.number}/handle/", step, format="multipart")
    again = client.post(f"/api/v1/cases/{case.number}/handle/", step, format="multipart")
    assert first.status_code == again.status_code == 200
    assert case.timeline.filter(action="handled").count() == 1
    assert Case.objects.get(pk=case.pk).state == State.VERIFY


def test_a_queued_step_taken_by_someone_else_meanwhile_is_refused_with_the_reason(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    queued_task = services.open_task(case).pk  # what the offline phone saw
    services.case_handle(actor=cast.worker2, number=case.number, result="同事已处理")
    refused = api(cast.worker).post(
        f"/api/v1/cases/{case.number}/handle/",
        {"task_id": queued_task, "client_id": "phone-late", "result": "我也处理了"},
        format="multipart",
    )
    assert refused.status_code == 400
    assert "not possible now" in refused.json()["detail"]
    assert case.timeline.filter(action="handled").count() == 1
    assert not case.timeline.filter(client_id="phone-late").exists()


def test_my_reports_lists_only_mine(cast):
    mine = report(cast.worker)
    report(cast.worker2)
    listed = api(cast.worker).get("/api/v1/cases/?mine=true").json()["results"]
    assert [c["number"] for c in listed] == [mine.number]


def test_parties_come_as_json_beside_photos(cast):
    response = api(cast.worker).post(
        "/api/v1/cases/",
        body(category="0101", parties_json='[{"name": "张三", "phone": "13800000000"}]'),
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert Case.objects.get().parties.get().name == "张三"
