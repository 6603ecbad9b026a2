"""Complete paths through the case loop, driven from code through the services."""

import pytest

from cases import services
from cases.models import ClosureReason, Notification, Satisfaction, State
from tests.base import category, make_user, report


def states(case):
    return list(case.timeline.values_list("action", "to_state"))


def test_on_site_handling_runs_to_closure(cast):
    case = report(cast.worker)
    assert case.state == State.TRIAGE
    assert case.cell.code == "420106002001001"
    assert case.number.startswith("420106002-")

    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(actor=cast.worker, number=case.number, result="已清理")
    services.case_verify(actor=cast.worker2, number=case.number, passed=True)
    services.case_return_visit(
        actor=cast.dispatcher, number=case.number, satisfaction=Satisfaction.SATISFIED
    )

    case.refresh_from_db()
    assert case.state == State.CLOSED
    assert case.closure_reason == ClosureReason.RESOLVED
    assert case.closed_at is not None
    assert [a for a, _ in states(case)] == ["reported", "triaged", "handled", "verified", "closed"]
    assert case.process.status == "DONE"


def test_the_handler_cannot_verify_their_own_work(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(actor=cast.worker, number=case.number, result="已清理")
    with pytest.raises(services.ServiceError, match="cannot act"):
        services.case_verify(actor=cast.worker, number=case.number, passed=True)
    case.refresh_from_db()
    assert case.state == State.VERIFY


def test_mediation_success_records_the_agreement(cast):
    case = report(cast.worker, code="0101", parties=[{"name": "张三", "phone": "13800000000"}])
    services.case_triage(actor=cast.dispatcher, number=case.number, route="mediation")
    services.case_mediate(actor=cast.mediator, number=case.number, success=True, note="双方和解")
    services.case_return_visit(
        actor=cast.worker, number=case.number, satisfaction=Satisfaction.BASIC
    )
    case.refresh_from_db()
    assert case.state == State.CLOSED
    assert case.closure_reason == ClosureReason.AGREEMENT
    assert case.parties.get().phone == "13800000000"


def test_mediation_failing_twice_is_referred(cast, territory):
    from grid.models import Post, Role

    street_mediator = make_user("smediator")
    Post.objects.create(user=street_mediator, role=Role.MEDIATOR, street=territory.street_a)
    case = report(cast.worker, code="0101")
    services.case_triage(actor=cast.dispatcher, number=case.number, route="mediation")
    services.case_mediate(actor=cast.mediator, number=case.number, success=False, note="未达成")
    case.refresh_from_db()
    assert case.state == State.STREET_MEDIATION
    with pytest.raises(services.ServiceError):
        services.case_mediate(actor=cast.mediator, number=case.number, success=False, note="x")
    services.case_mediate(actor=street_mediator, number=case.number, success=False, note="转诉讼")
    case.refresh_from_db()
    assert case.state == State.CLOSED
    assert case.closure_reason == ClosureReason.REFERRED
    assert [a for a, _ in states(case)][-2:] == ["mediation_failed", "referred"]


def test_a_department_returns_the_case_and_the_street_redispatches_it(cast):
    from grid.models import Department, Post, Role

    housing = Department.objects.create(
        name="杨园房管所", kind="房管", street=cast.department.street
    )
    housing_handler = make_user("housing")
    Post.objects.create(user=housing_handler, role=Role.HANDLER, department=housing)
    case = report(cast.worker, code="0203")
    services.case_triage(actor=cast.dispatcher, number=case.number, route="street_dispatch")
    services.case_dispatch(actor=cast.coordinator, number=case.number, department=housing)
    with pytest.raises(services.NotFound):
        services.case_handle(actor=cast.handler, number=case.number, result="x")

    services.case_return(actor=housing_handler, number=case.number, reason="不属于房管职责")
    case.refresh_from_db()
    assert case.state == State.STREET_DISPATCH
    assert case.department is None

    services.case_dispatch(actor=cast.coordinator, number=case.number, department=cast.department)
    services.case_handle(actor=cast.handler, number=case.number, result="已拆除")
    case.refresh_from_db()
    assert case.state == State.VERIFY
    assert case.handling_step == State.DEPARTMENT
    assert [a for a, _ in states(case)] == [
        "reported",
        "triaged",
        "dispatched",
        "returned",
        "dispatched",
        "handled",
    ]


def test_failed_verification_goes_back_to_the_handler_and_counts_a_reopen(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(actor=cast.worker, number=case.number, result="已清理")
    services.case_verify(actor=cast.worker2, number=case.number, passed=False, note="仍有杂物")
    case.refresh_from_db()
    assert case.state == State.ONSITE
    assert case.reopen_count == 1


def test_unsatisfied_reopens_once_then_closes(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    for _ in range(2):
        services.case_handle(actor=cast.worker, number=case.number, result="已清理")
        services.case_verify(actor=cast.worker2, number=case.number, passed=True)
        services.case_return_visit(
            actor=cast.dispatcher, number=case.number, satisfaction=Satisfaction.UNSATISFIED
        )
        case.refresh_from_db()
    assert case.state == State.CLOSED
    assert case.closure_reason == ClosureReason.UNSATISFIED_FINAL
    assert case.reopen_count == 1
    assert [a for a, _ in states(case)].count("reopened") == 1


def test_rejecting_a_duplicate_merges_it_into_the_original(cast):
    original = report(cast.worker)
    duplicate = report(cast.worker2, reporter_name="李四")
    assert list(services.find_duplicates(duplicate, viewer=cast.dispatcher)) == [original]
    services.case_reject(
        actor=cast.dispatcher,
        number=duplicate.number,
        reason=ClosureReason.DUPLICATE,
        duplicate_of=original.number,
    )
    duplicate.refresh_from_db()
    assert duplicate.state == State.REJECTED
    assert duplicate.merged_into == original
    merged = original.timeline.get(action="merged")
    assert merged.data["duplicate"] == duplicate.number
    assert merged.data["reporter_name"] == "李四"


def test_a_major_safety_hazard_skips_triage_and_alerts_the_street(cast):
    case = report(cast.worker, code="0303", major_hazard=True, urgency="emergency")
    assert case.state == State.STREET_DISPATCH
    assert set(Notification.objects.filter(case=case).values_list("user__username", flat=True)) == {
        "coordinator",
        "leader",
    }
    services.case_dispatch(actor=cast.coordinator, number=case.number, department=cast.department)
    case.refresh_from_db()
    assert case.state == State.DEPARTMENT


def test_a_retried_report_with_the_same_client_id_makes_one_case(cast):
    first = services.case_report(
        actor=cast.worker,
        category=category("0401"),
        description="x",
        location=(114.302, 30.558),
        source="grid_worker",
        client_id="c-1",
    )
    second = services.case_report(
        actor=cast.worker,
        category=first.case.category,
        description="x",
        location=(114.302, 30.558),
        source="grid_worker",
        client_id="c-1",
    )
    assert first.created and not second.created
    assert second.case == first.case


@pytest.mark.parametrize(
    ("start", "first", "extra"),
    [
        ("start", "triage", {}),
        ("start_hazard", "street_dispatch", {"code": "0303", "major_hazard": True}),
    ],
)
def test_a_reports_flow_starts_with_its_first_task_open_and_linked(cast, start, first, extra):
    from viewflow.workflow import signals

    sent: list[str] = []

    def noting(name: str):
        def receiver(**kwargs):
            sent.append(name)

        return receiver

    receivers = {name: noting(name) for name in ("task_started", "task_finished", "flow_started")}
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver)
    try:
        case = report(cast.worker, **extra)
    finally:
        for name, receiver in receivers.items():
            getattr(signals, name).disconnect(receiver)
    assert sorted(sent) == ["flow_started", "task_finished", "task_started"]
    tasks = list(case.process.task_set.order_by("pk"))
    assert [t.flow_task.name for t in tasks] == [start, first]
    assert [t.status for t in tasks] == ["DONE", "NEW"]
    assert list(tasks[1].previous.all()) == [tasks[0]]
    case.process.refresh_from_db()
    assert case.process.status == "NEW"


@pytest.mark.django_db(transaction=True)
def test_a_flow_started_outside_a_transaction_is_refused_and_writes_nothing():
    from viewflow.workflow.models import Process

    from cases.flows import CaseFlow

    with pytest.raises(RuntimeError, match="inside the reporting service's transaction"):
        CaseFlow.start.run()
    assert not Process.objects.exists()
