"""Supervisors steer a case at any open step: 督办 (urge), 改派, take over, 转办 (transfer)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from cases import services
from cases.models import Case, Notification, State
from tests.base import api, report


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def onsite(cast) -> Case:
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    return fresh(case)


def test_an_urge_marks_the_case_tells_its_owners_and_brings_the_deadline_forward(cast):
    case = onsite(cast)
    due = timezone.now() + timedelta(hours=2)
    assert due < case.step_due
    services.case_urge(actor=cast.leader, number=case.number, note="今天必须处理", due=due)
    case = fresh(case)
    assert case.supervised and case.step_due == due
    assert case.step_warn_at <= due and case.deadline_check_at == case.step_warn_at
    told = set(
        Notification.objects.filter(kind="urge", case=case).values_list("user__username", flat=True)
    )
    assert told == {"worker", "worker2"}
    assert case.timeline.order_by("seq").last().action == "urged"


def test_only_the_cases_supervisors_may_urge_and_a_later_deadline_is_refused(cast):
    case = onsite(cast)
    for person in (cast.worker, cast.dispatcher, cast.outsider):
        with pytest.raises(services.ServiceError):
            services.case_urge(actor=person, number=case.number, note="快")
    with translation.override("en"), pytest.raises(services.ServiceError, match="earlier"):
        services.case_urge(
            actor=cast.coordinator,
            number=case.number,
            note="快",
            due=case.step_due + timedelta(days=1),
        )
    assert not fresh(case).supervised


def test_reassign_gives_the_step_to_an_eligible_person_only(cast):
    case = onsite(cast)
    with pytest.raises(services.ServiceError):
        services.case_reassign(actor=cast.leader, number=case.number, to=cast.handler, reason="x")
    services.case_reassign(actor=cast.leader, number=case.number, to=cast.worker2, reason="就近")
    assert services.open_task(fresh(case)).owner_id == cast.worker2.pk
    with pytest.raises(services.ServiceError):
        services.case_handle(actor=cast.worker, number=case.number, result="已处理")
    services.case_handle(actor=cast.worker2, number=case.number, result="已处理")


def test_a_supervisor_who_takes_over_may_act_and_the_owners_may_not(cast):
    case = onsite(cast)
    assert not services.can_act(cast.leader, case)
    services.case_take_over(actor=cast.leader, number=case.number, reason="亲自处理")
    case = fresh(case)
    assert services.can_act(cast.leader, case)
    with pytest.raises(services.ServiceError):  # the step is the leader's now
        services.case_handle(actor=cast.worker, number=case.number, result="已处理")
    services.case_handle(actor=cast.leader, number=case.number, result="已处理")
    assert fresh(case).state == State.VERIFY


def test_transfer_moves_the_case_to_the_right_community_within_the_territory(cast, territory):
    case = onsite(cast)
    services.case_transfer(
        actor=cast.coordinator, number=case.number, community=territory.a2, reason="地址错误"
    )
    case = fresh(case)
    assert (case.community, case.cell, case.state) == (territory.a2, None, State.ONSITE)
    actions = list(case.timeline.order_by("seq").values_list("action", "community_id"))
    assert actions[-2:] == [("transferred_out", territory.a1.pk), ("transferred", territory.a2.pk)]
    # Nobody in community A2: its street's coordinator owns the step now.
    assert services.can_act(cast.coordinator, case) and not services.can_act(cast.worker, case)
    with translation.override("en"), pytest.raises(services.ServiceError, match="territory"):
        services.case_transfer(
            actor=cast.coordinator, number=case.number, community=territory.b1, reason="x"
        )


def test_supervision_from_the_case_page_and_the_api(client, cast, territory):
    case = onsite(cast)
    client.force_login(cast.leader)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert f"/cases/{case.number}/urge/" in page and f"/cases/{case.number}/transfer/" in page
    client.post(
        f"/cases/{case.number}/urge/", {"note": "请尽快", "task_id": services.open_task(case).pk}
    )
    assert fresh(case).supervised
    client.force_login(cast.worker)
    assert (
        f"/cases/{case.number}/urge/" not in client.get(f"/cases/{case.number}/").content.decode()
    )
    answer = api(cast.coordinator).post(
        f"/api/v1/cases/{case.number}/transfer/",
        {
            "community": territory.a2.code,
            "reason": "地址错误",
            "task_id": services.open_task(case).pk,
        },
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert fresh(case).community == territory.a2
    other = onsite(cast)
    refused = api(cast.worker).post(
        f"/api/v1/cases/{other.number}/take-over/",
        {"reason": "x", "task_id": services.open_task(other).pk},
        format="json",
    )
    assert refused.status_code == 400 and "supervisors" in refused.json()["detail"]


def test_an_urge_reaches_the_live_map_and_its_snapshot(cast, client):
    from cases.events import event_payload

    case = onsite(cast)
    entry = services.case_urge(actor=cast.leader, number=case.number, note="今天办结")
    assert event_payload(entry)["case"]["supervised"] is True
    client.force_login(cast.leader)
    (marker,) = client.get("/map/snapshot.json").json()["markers"]
    assert marker["number"] == case.number and marker["supervised"] is True


def test_the_transfer_form_names_only_units_of_the_persons_territory(client, cast, territory):
    case = onsite(cast)
    client.force_login(cast.leader)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert territory.a2.code in page and territory.b1.code not in page
    answer = api(cast.leader).post(
        f"/api/v1/cases/{case.number}/transfer/",
        {"community": territory.b1.code, "reason": "x", "task_id": services.open_task(case).pk},
        format="json",
    )
    assert answer.status_code == 400 and "community" in answer.json()


def test_a_list_or_a_number_where_text_belongs_is_refused(cast):
    case = onsite(cast)
    task_id = services.open_task(case).pk
    listed = api(cast.worker).post(
        f"/api/v1/cases/{case.number}/handle/",
        {"result": ["已清理", "拍照"], "task_id": task_id},
        format="json",
    )
    assert listed.status_code == 400 and "result" in listed.json()
    due = api(cast.leader).post(
        f"/api/v1/cases/{case.number}/urge/",
        {"note": "快", "due": 12, "task_id": task_id},
        format="json",
    )
    assert due.status_code == 400 and "due" in due.json()
    assert fresh(case).state == State.ONSITE and not fresh(case).supervised
