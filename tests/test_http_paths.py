"""More complete paths through the HTTP screens: mediation escalated twice,
a department's return and re-dispatch, the safety-hazard fast path, a failed
verification and an unsatisfied return visit."""

from cases import services
from cases.models import Case, ClosureReason, State
from grid.models import Department, Post, Role
from tests.base import make_user, report


def act(client, user, case, action, **data):
    client.force_login(user)
    case = Case.objects.get(pk=case.pk)
    data = {"task_id": services.open_task(case).pk, **data}
    response = client.post(f"/cases/{case.number}/{action}/", data)
    assert response.status_code == 302, response.content.decode()[:500]
    return Case.objects.get(pk=case.pk)


def test_mediation_failing_twice_is_referred(client, cast, territory):
    centre = make_user("centre")
    Post.objects.create(user=centre, role=Role.MEDIATOR, street=territory.street_a)
    case = report(cast.worker, code="0101")
    act(client, cast.dispatcher, case, "triage", route="mediation", urgency="general")
    case = act(client, cast.mediator, case, "mediate", success="false", note="分歧大")
    assert case.state == State.STREET_MEDIATION
    case = act(client, centre, case, "mediate", success="false", note="建议诉讼")
    assert case.state == State.CLOSED
    assert case.closure_reason == ClosureReason.REFERRED


def test_a_department_returns_and_the_street_redispatches(client, cast):
    housing = Department.objects.create(name="房管所", kind="房管", street=cast.department.street)
    clerk = make_user("clerk")
    Post.objects.create(user=clerk, role=Role.HANDLER, department=housing)
    case = report(cast.worker, code="0203")
    act(client, cast.dispatcher, case, "triage", route="street_dispatch", urgency="general")
    act(client, cast.coordinator, case, "dispatch", department=housing.pk)
    case = act(client, clerk, case, "return", reason="属城管职责")
    assert case.state == State.STREET_DISPATCH
    case = act(client, cast.coordinator, case, "dispatch", department=cast.department.pk)
    case = act(client, cast.handler, case, "handle", result="已拆除")
    assert case.state == State.VERIFY


def test_the_safety_hazard_fast_path(client, cast):
    client.force_login(cast.dispatcher)
    client.post(
        "/cases/new/",
        {
            "category": "0303",
            "urgency": "emergency",
            "major_hazard": "on",
            "description": "燃气泄漏",
            "lon": 114.302,
            "lat": 30.558,
            "source": "hotline",
        },
    )
    case = Case.objects.get()
    assert case.state == State.STREET_DISPATCH
    client.force_login(cast.coordinator)
    assert "hazard" in client.get(f"/cases/{case.number}/").content.decode()
    case = act(client, cast.coordinator, case, "dispatch", department=cast.department.pk)
    assert case.state == State.DEPARTMENT


def test_failed_verification_and_an_unsatisfied_visit_reopen(client, cast):
    case = report(cast.worker)
    act(client, cast.dispatcher, case, "triage", route="onsite", urgency="general")
    act(client, cast.worker, case, "handle", result="已清理")
    case = act(client, cast.worker2, case, "verify", passed="false", note="仍有杂物")
    assert (case.state, case.reopen_count) == (State.ONSITE, 1)
    act(client, cast.worker, case, "handle", result="再次清理")
    act(client, cast.worker2, case, "verify", passed="true")
    case = act(
        client, cast.dispatcher, case, "return_visit", satisfaction="unsatisfied", reopen="on"
    )
    assert (case.state, case.reopen_count) == (State.ONSITE, 2)


def test_mediation_success_records_the_agreement_and_closes(client, cast):
    case = report(cast.worker, code="0101", parties=[{"name": "张三"}, {"name": "李四"}])
    act(client, cast.dispatcher, case, "triage", route="mediation", urgency="general")
    case = act(client, cast.mediator, case, "mediate", success="true", note="双方签订协议")
    assert case.state == State.RETURN_VISIT
    case = act(client, cast.worker, case, "return_visit", satisfaction="satisfied")
    assert case.state == State.CLOSED
    assert case.closure_reason == ClosureReason.AGREEMENT
