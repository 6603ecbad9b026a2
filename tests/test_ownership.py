"""No case without an owner: each way a case used to be stranded, now impossible.

A step belongs to the first level of its chain in the loop table that has
anyone (the cell's workers, the community's dispatchers or mediators, the
street's coordinators, the district's administrators); only they may act,
and the step is in their inbox. Verification and the return visit never go
to the person who handled the case.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from viewflow.workflow.status import STATUS

from cases import queues, services
from cases.models import Case, Notification, Satisfaction, State
from cases.services import ownership
from grid.models import CellAssignment, District, Post, Role
from tests.base import box, make_user, report

# In community A2, cell 420106002002001, where the cast has nobody but the street's people.
POINT_A2_001 = (114.312, 30.558)
# In street A, outside every community (属地兜底 to the street).
POINT_NO_COMMUNITY = (114.302, 30.562)
# Cell 420106002001002 of community A1: no worker there unless a test assigns one.
POINT_A1_002 = (114.308, 30.558)


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def inbox(user) -> list[str]:
    return list(queues.my_tasks(user).values_list("number", flat=True))


def owners(case: Case, cast) -> set[str]:
    people = [getattr(cast, name) for name in vars(cast) if name != "department"]
    return {p.username for p in people if services.can_act(p, fresh(case))}


def test_a_report_in_a_community_without_a_dispatcher_goes_to_the_streets_coordinator(cast):
    case = report(cast.coordinator, point=POINT_A2_001)
    assert owners(case, cast) == {"coordinator"}
    assert case.number in inbox(cast.coordinator)
    services.case_triage(actor=cast.coordinator, number=case.number, route="street_dispatch")
    assert fresh(case).state == State.STREET_DISPATCH


def test_a_case_outside_every_community_can_be_handled_verified_and_closed(cast, territory):
    case = report(cast.coordinator, point=POINT_NO_COMMUNITY)
    assert case.community is None
    services.case_triage(actor=cast.coordinator, number=case.number, route="onsite")
    assert owners(case, cast) == {"coordinator"}
    assert case.number in inbox(cast.coordinator)
    services.case_return(actor=cast.coordinator, number=case.number, reason="再研判")
    services.case_triage(actor=cast.coordinator, number=case.number, route="onsite")
    services.case_handle(actor=cast.coordinator, number=case.number, result="已清理")
    # The coordinator handled it and may not verify it; a district administrator may.
    assert owners(case, cast) == {"admin"}  # only the superuser, until someone is posted
    admin = make_user("district-admin")
    Post.objects.create(user=admin, role=Role.ADMINISTRATOR, district=territory.district)
    assert services.can_act(admin, fresh(case)) and not services.can_act(cast.admin, fresh(case))
    services.case_verify(actor=admin, number=case.number, passed=True)
    services.case_return_visit(actor=admin, number=case.number, satisfaction=Satisfaction.SATISFIED)
    assert fresh(case).state == State.CLOSED


def test_verification_in_a_cell_with_a_single_worker_goes_to_the_dispatcher(cast, territory):
    CellAssignment.objects.create(worker=cast.worker, cell=territory.cell("420106002001002"))
    case = report(cast.worker, point=POINT_A1_002)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(actor=cast.worker, number=case.number, result="已清理")
    assert owners(case, cast) == {"dispatcher"}
    assert case.number in inbox(cast.dispatcher) and case.number not in inbox(cast.worker)
    services.case_verify(actor=cast.dispatcher, number=case.number, passed=True)
    assert fresh(case).state == State.RETURN_VISIT


def test_a_department_handled_case_outside_every_community_is_verified_by_the_street(cast):
    case = report(cast.coordinator, point=POINT_NO_COMMUNITY)
    services.case_triage(actor=cast.coordinator, number=case.number, route="street_dispatch")
    services.case_dispatch(actor=cast.coordinator, number=case.number, department=cast.department)
    services.case_handle(actor=cast.handler, number=case.number, result="已处置")
    assert owners(case, cast) == {"coordinator"}
    services.case_verify(actor=cast.coordinator, number=case.number, passed=True)


def test_a_claim_is_released_when_its_holder_leaves_the_cell(committed_cast):
    # Committed rows: the release runs when the assignment's change commits.
    cast = committed_cast
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.task_claim(actor=cast.worker, number=case.number)
    for assignment in CellAssignment.objects.filter(worker=cast.worker):
        assignment.ended = timezone.now()
        assignment.save()
    task = services.open_task(fresh(case))
    assert task.status == STATUS.NEW and task.owner_id is None
    assert fresh(case).timeline.order_by("seq").last().action == "released"
    assert case.number in inbox(cast.worker2)
    services.case_handle(actor=cast.worker2, number=case.number, result="已清理")


def test_a_step_a_superuser_holds_stays_in_their_inbox_until_they_let_it_go(committed_cast):
    cast = committed_cast
    case = report(cast.admin, point=(114.312, 30.548))  # street B: nobody there
    services.task_claim(actor=cast.admin, number=case.number)
    dispatcher_b2 = make_user("dispatcher-b2")
    community_b2 = fresh(case).community
    Post.objects.create(user=dispatcher_b2, role=Role.DISPATCHER, community=community_b2)
    # Held like a step a supervisor took over: theirs, and in their inbox.
    assert case.number in inbox(cast.admin) and case.number not in inbox(dispatcher_b2)
    services.task_unclaim(actor=cast.admin, number=case.number)
    assert case.number in inbox(dispatcher_b2) and case.number not in inbox(cast.admin)


def test_a_claim_whose_holder_lost_the_post_without_a_save_does_not_block(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.task_claim(actor=cast.worker, number=case.number)
    # A bulk update bypasses the signals: the claim is still there.
    CellAssignment.objects.filter(worker=cast.worker).update(ended=timezone.now())
    assert services.open_task(fresh(case)).owner_id == cast.worker.pk
    services.case_handle(actor=cast.worker2, number=case.number, result="已清理")
    assert fresh(case).handler_id == cast.worker2.pk


def test_the_handler_neither_verifies_nor_does_the_return_visit(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(actor=cast.worker, number=case.number, result="已清理")
    with pytest.raises(services.ServiceError):
        services.case_verify(actor=cast.worker, number=case.number, passed=True)
    services.case_verify(actor=cast.worker2, number=case.number, passed=True)
    assert "worker" not in owners(case, cast)
    with pytest.raises(services.ServiceError):
        services.case_return_visit(
            actor=cast.worker, number=case.number, satisfaction=Satisfaction.SATISFIED
        )
    assert owners(case, cast) == {"worker2", "dispatcher"}


def test_stranded_cases_are_listed_with_the_reason_and_the_street_is_alerted(cast, territory):
    # Nobody at all in street B: a case there is only a superuser's.
    case = report(cast.admin, point=(114.312, 30.548))
    assert [s.case.pk for s in ownership.stranded()] == [case.pk]
    output = io.StringIO()
    with pytest.raises(CommandError, match="1 open case"):
        call_command("check_ownership", stdout=output)
    assert case.number in output.getvalue()
    leader = make_user("leader-b")
    Post.objects.create(user=leader, role=Role.LEADER, street=territory.street_b)
    assert ownership.alert_unowned() == 1
    assert Notification.objects.filter(user=leader, case=case, kind="unowned").count() == 1
    assert ownership.alert_unowned() == 0  # once a day per case
    coordinator = make_user("coordinator-b")
    Post.objects.create(user=coordinator, role=Role.COORDINATOR, street=territory.street_b)
    assert ownership.stranded() == []
    call_command("check_ownership", stdout=io.StringIO())  # exits 0: nothing stranded


def test_the_administrators_page_lists_the_stranded_cases_of_their_territory_only(
    client, cast, territory
):
    stranded_b = report(cast.admin, point=(114.312, 30.548))
    elsewhere = District.objects.create(
        code="420111", name="洪山区", boundary=box(114.40, 30.40, 114.50, 30.50)
    )
    other_admin = make_user("admin-hongshan")
    Post.objects.create(user=other_admin, role=Role.ADMINISTRATOR, district=elsewhere)
    client.force_login(cast.admin)
    assert stranded_b.number in client.get("/cases/ownership/").content.decode()
    client.force_login(other_admin)
    page = client.get("/cases/ownership/")
    assert page.status_code == 200 and stranded_b.number not in page.content.decode()
    client.force_login(cast.coordinator)
    assert client.get("/cases/ownership/").status_code == 403


def test_a_superuser_who_handled_a_case_may_not_verify_it(cast, territory):
    case = report(cast.admin, point=(114.312, 30.548))  # street B: nobody there
    services.case_triage(actor=cast.admin, number=case.number, route="onsite")
    services.case_handle(actor=cast.admin, number=case.number, result="已处理")
    assert not services.can_act(cast.admin, fresh(case))
    assert case.number not in inbox(cast.admin)
    assert cast.admin not in list(ownership.owners(fresh(case)))
    assert [s.case.pk for s in ownership.stranded()] == [case.pk]


def test_a_step_independent_of_a_handler_nobody_recorded_has_its_owners(cast):
    case = report(cast.worker)
    Case.objects.filter(pk=case.pk).update(state=State.VERIFY, handler=None)
    # No task of that step exists here, but who owns it does not depend on one.
    assert services.can_act(cast.worker, fresh(case))
    assert ownership.stranded() == []


def test_a_mediated_case_closed_unsatisfied_is_not_resolved(cast):
    from cases.models import ClosureReason

    case = report(cast.worker, code="0101")
    services.case_triage(actor=cast.dispatcher, number=case.number, route="mediation")
    services.case_mediate(actor=cast.mediator, number=case.number, success=True, note="达成协议")
    for _ in range(2):  # the first 不满意 reopens the mediation once
        services.case_return_visit(
            actor=cast.dispatcher, number=case.number, satisfaction=Satisfaction.UNSATISFIED
        )
        if fresh(case).state == State.MEDIATION:
            services.case_mediate(
                actor=cast.mediator, number=case.number, success=True, note="再次调解"
            )
    assert fresh(case).closure_reason == ClosureReason.UNSATISFIED_FINAL
