"""The case API: report with a token, idempotent retries, bad input, the whole loop."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from cases import services
from cases.models import Case, State
from tests.base import POINT_B1, api, body, jpeg, report


def test_it_reports_a_case_with_a_token(cast):
    response = api(cast.worker).post("/api/v1/cases/", body(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["created"] is True
    assert data["cell"] == "420106002001001"
    assert data["state"] == State.TRIAGE
    assert Case.objects.get(number=data["number"]).source == "api"


@pytest.mark.parametrize("code, hazard", [("0101", False), ("0303", True)])
def test_the_reports_answer_is_the_cases_detail(cast, code, hazard):
    """The 201 is built from the rows just written; it must be what a read returns."""
    client = api(cast.coordinator)
    parties = [{"name": "张三", "phone": "13800000000"}, {"name": "李四"}]
    sent = body(category=code, major_hazard=hazard, parties=parties, client_id="c-1")
    created = client.post("/api/v1/cases/", sent, format="json").json()
    assert created.pop("created") is True
    assert created["task_id"] is not None and len(created["parties"]) == 2
    assert created == client.get(f"/api/v1/cases/{created['number']}/").json()


def test_the_same_client_id_twice_makes_one_case_and_says_so(cast):
    client = api(cast.worker)
    first = client.post("/api/v1/cases/", body(client_id="phone-1"), format="json")
    second = client.post("/api/v1/cases/", body(client_id="phone-1"), format="json")
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["created"] is False
    assert second.json()["number"] == first.json()["number"]
    assert Case.objects.count() == 1


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"category": "9898"}, "category"),
        ({"category": "04"}, "category"),
        ({"description": "x" * 4001}, "description"),
        ({"lon": "east"}, "lon"),
        ({"lon": 116.397, "lat": 39.909}, "detail"),
        ({"urgency": "whenever"}, "urgency"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_writes_nothing(cast, overrides, field):
    response = api(cast.worker).post("/api/v1/cases/", body(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Case.objects.count() == 0


def test_malformed_json_is_a_400(cast):
    response = api(cast.worker).post(
        "/api/v1/cases/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert Case.objects.count() == 0


def test_a_file_that_is_not_an_image_is_refused(cast):
    fake = SimpleUploadedFile("p.jpg", b"not an image", content_type="image/jpeg")
    response = api(cast.worker).post("/api/v1/cases/", body(photos=[fake]), format="multipart")
    assert response.status_code == 400
    assert "not an image" in response.json()["detail"]
    assert Case.objects.count() == 0


def test_a_photo_is_stored_with_the_report(cast, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = api(cast.worker).post("/api/v1/cases/", body(photos=[jpeg()]), format="multipart")
    assert response.status_code == 201, response.json()
    case = Case.objects.get(number=response.json()["number"])
    assert case.attachments.get().content_type == "image/jpeg"


def test_without_a_token_nothing_is_reachable(cast):
    assert APIClient().get("/api/v1/cases/").status_code in (401, 403)
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    assert bad.post("/api/v1/cases/", body(), format="json").status_code == 401


def test_a_token_of_street_b_cannot_read_or_change_street_a(cast):
    case = report(cast.worker)
    outsider = api(cast.outsider)
    assert outsider.get(f"/api/v1/cases/{case.number}/").status_code == 404
    response = outsider.post(f"/api/v1/cases/{case.number}/triage/", {"route": "onsite"})
    assert response.status_code == 404
    listed = outsider.get("/api/v1/cases/").json()["results"]
    assert case.number not in {c["number"] for c in listed}
    lon, lat = POINT_B1
    assert outsider.post("/api/v1/cases/", body(lon=lon, lat=lat), format="json").status_code == 201


def test_one_case_walks_its_whole_loop_through_the_api(cast):
    number = api(cast.worker).post("/api/v1/cases/", body(), format="json").json()["number"]
    steps = [
        (cast.dispatcher, "triage", {"route": "onsite"}),
        (cast.worker, "handle", {"result": "已清理"}),
        (cast.worker2, "verify", {"passed": True}),
        (cast.dispatcher, "return-visit", {"satisfaction": "satisfied", "words": "很满意"}),
    ]
    for user, action, data in steps:
        client = api(user)
        task_id = client.get(f"/api/v1/cases/{number}/").json()["task_id"]
        response = client.post(
            f"/api/v1/cases/{number}/{action}/", data | {"task_id": task_id}, format="json"
        )
        assert response.status_code == 200, (action, response.json())
    detail = api(cast.dispatcher).get(f"/api/v1/cases/{number}/").json()
    assert detail["state"] == State.CLOSED
    assert [e["action"] for e in detail["timeline"]] == [
        "reported",
        "triaged",
        "handled",
        "verified",
        "closed",
    ]


def test_a_transition_not_allowed_now_is_a_400_with_the_reason(cast):
    case = report(cast.worker)
    step = {"passed": True, "task_id": services.open_task(case).pk}
    response = api(cast.dispatcher).post(
        f"/api/v1/cases/{case.number}/verify/", step, format="json"
    )
    assert response.status_code == 400
    assert "not possible now" in response.json()["detail"]
    chinese = api(cast.dispatcher, language="zh-hans").post(
        f"/api/v1/cases/{case.number}/verify/", step, format="json"
    )
    assert "现在不能执行此操作" in chinese.json()["detail"]
    missing = api(cast.dispatcher).post(f"/api/v1/cases/{case.number}/triage/", {}, format="json")
    assert missing.status_code == 400
    assert {"route", "task_id"} <= set(missing.json())
