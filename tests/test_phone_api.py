"""What the phone relies on: retries are harmless, refusals say why, a case's
photos and labels come with it."""

import io

from PIL import Image

from cases import services
from cases.models import Case, State
from tests.base import api, body, jpeg, report


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


def test_the_case_detail_shows_the_photos_before_and_after_labelled(cast, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    case = report(cast.worker, photos=[jpeg(color="red")])
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(
        actor=cast.worker, number=case.number, result="已清理", photos=[jpeg(color="green")]
    )
    client = api(cast.worker2, language="zh-hans")
    detail = client.get(f"/api/v1/cases/{case.number}/").json()
    photos = detail["photos"]
    assert [(p["stage"], p["step"], p["by"]) for p in photos] == [
        ("before", "reported", "worker"),
        ("after", "handled", "worker"),
    ]
    assert [p["stage_label"] for p in photos] == ["上报时", "处置后"]
    # The URL loads with the same token, and shows the photo taken at that step.
    after = client.get(photos[1]["url"])
    assert after.status_code == 200 and after["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(b"".join(after.streaming_content))) as image:
        red, green, _ = image.convert("RGB").getpixel((4, 4))
    assert green > 100 and red < 100


def test_a_case_photo_is_not_served_outside_the_case_territory(cast, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    case = report(cast.worker, photos=[jpeg()])
    url = api(cast.worker).get(f"/api/v1/cases/{case.number}/").json()["photos"][0]["url"]
    assert api(cast.leader).get(url).status_code == 200
    refused = api(cast.outsider).get(url)
    assert refused.status_code == 404
    assert b"\xff\xd8" not in refused.content
    other = report(cast.worker)
    # A photo of one case is not reachable through another case's number either.
    assert api(cast.worker).get(url.replace(case.number, other.number)).status_code == 404


def test_the_case_list_carries_labels_beside_the_codes(cast):
    report(cast.worker)
    listed = api(cast.worker, language="zh-hans").get("/api/v1/cases/?mine=true").json()
    row = listed["results"][0]
    assert (row["state"], row["urgency"], row["deadline"]) == ("triage", "general", "green")
    assert row["state_label"] == "待受理"
    assert "triage" not in row["state_label"] and row["urgency_label"] != "general"


def test_the_categories_say_which_kinds_may_be_major_hazards(cast):
    rows = {c["code"]: c for c in api(cast.worker).get("/api/v1/categories/").json()}
    hazards = sorted(code for code, c in rows.items() if c["hazard"] and c["group"])
    assert hazards and "0401" not in hazards and rows["0401"]["group"] == "04"
    hazard = hazards[0]
    refused = api(cast.worker).post(
        "/api/v1/cases/", body(category="0401", major_hazard=True), format="multipart"
    )
    assert refused.status_code == 400
    accepted = api(cast.worker).post(
        "/api/v1/cases/", body(category=hazard, major_hazard=True), format="multipart"
    )
    assert accepted.status_code == 201, accepted.json()
