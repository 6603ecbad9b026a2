"""The territory rule: who sees a case and who may complete each step."""

import threading

import pytest
from django.db import connection

from cases import services
from cases.models import Case, State
from tests.base import POINT_B1, build_cast, build_territory, report

# Inside cell 420106002001002 (community A1, but not the worker's cell).
POINT_A1_002 = (114.308, 30.558)


def visible_numbers(user) -> set[str]:
    return set(services.visible_cases(user).values_list("number", flat=True))


def test_each_role_sees_only_its_territory(cast, territory):
    from grid.models import Post, Role

    Post.objects.create(user=cast.outsider, role=Role.GRID_WORKER, community=territory.b1)
    a_case = report(cast.worker)
    b_case = report(cast.outsider, point=POINT_B1)
    for user in (cast.worker, cast.dispatcher, cast.mediator, cast.coordinator, cast.leader):
        assert visible_numbers(user) == {a_case.number}, user
    assert visible_numbers(cast.outsider) == {b_case.number}
    assert visible_numbers(cast.handler) == set()
    assert visible_numbers(cast.admin) == {a_case.number, b_case.number}


def test_an_outsider_gets_not_found_for_every_action(cast):
    case = report(cast.worker)
    with pytest.raises(services.NotFound):
        services.case_triage(actor=cast.outsider, number=case.number, route="onsite")
    with pytest.raises(services.NotFound):
        services.task_claim(actor=cast.outsider, number=case.number)
    assert case.timeline.count() == 1


def test_only_the_communitys_dispatchers_triage(cast):
    case = report(cast.worker)
    for user in (cast.worker, cast.mediator, cast.coordinator, cast.leader):
        with pytest.raises(services.ServiceError, match="cannot act"):
            services.case_triage(actor=user, number=case.number, route="onsite")
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")


def test_only_workers_of_the_cell_handle_on_site(cast):
    case = report(cast.worker, point=POINT_A1_002)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    with pytest.raises(services.ServiceError, match="cannot act"):
        services.case_handle(actor=cast.worker, number=case.number, result="x")


def test_only_the_departments_handlers_see_and_handle_its_cases(cast):
    case = report(cast.worker, code="0203")
    with pytest.raises(services.NotFound):
        services.get_case_for(cast.handler, case.number)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="street_dispatch")
    with pytest.raises(services.ServiceError, match="cannot act"):
        services.case_dispatch(actor=cast.leader, number=case.number, department=cast.department)
    services.case_dispatch(actor=cast.coordinator, number=case.number, department=cast.department)
    assert visible_numbers(cast.handler) == {case.number}
    services.case_handle(actor=cast.handler, number=case.number, result="已处理")


def test_a_claimed_step_is_closed_to_others(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.task_claim(actor=cast.worker2, number=case.number)
    with pytest.raises(services.ServiceError, match="claimed"):
        services.case_handle(actor=cast.worker, number=case.number, result="x")
    services.task_unclaim(actor=cast.worker2, number=case.number)
    services.case_handle(actor=cast.worker, number=case.number, result="已清理")


def test_a_stale_form_is_refused_and_changes_nothing(cast):
    case = report(cast.worker)
    task_id = services.open_task(case).pk
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite", task_id=task_id)
    entries = case.timeline.count()
    with pytest.raises(services.ServiceError):
        services.case_triage(
            actor=cast.dispatcher, number=case.number, route="mediation", task_id=task_id
        )
    case.refresh_from_db()
    assert case.state == State.ONSITE
    assert case.timeline.count() == entries


def test_parties_phones_are_for_those_handling_the_case(cast):
    case = report(cast.worker, code="0101", parties=[{"name": "王五", "phone": "13900000000"}])
    assert services.shows_party_phones(cast.dispatcher, case)
    assert not services.shows_party_phones(cast.leader, case)


def test_two_people_completing_one_task_at_once_exactly_one_wins(reference_data):
    cast = build_cast(build_territory())
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def complete(user):
        try:
            barrier.wait()
            services.case_handle(actor=user, number=case.number, result=f"{user} 处理")
            outcomes[user.username] = "ok"
        except services.ServiceError as exc:
            outcomes[user.username] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=complete, args=(u,)) for u in (cast.worker, cast.worker2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Both got an answer: one success and one clear refusal, not a crash.
    assert len(outcomes) == 2, outcomes
    assert list(outcomes.values()).count("ok") == 1, outcomes
    case = Case.objects.get(pk=case.pk)
    assert case.state == State.VERIFY
    assert case.timeline.filter(action="handled").count() == 1


# Inside community A2 of street A.
POINT_A2 = (114.312, 30.552)


def test_a_report_outside_the_reporters_streets_is_refused(cast):
    with pytest.raises(services.ServiceError, match="outside your territory"):
        report(cast.outsider)  # the outsider's post is in street B; the point in street A
    assert not Case.objects.exists()


def test_a_worker_with_only_a_cell_may_report_anywhere_in_its_street(cast, territory):
    from grid.models import CellAssignment, GridCell
    from tests.base import make_user

    helper = make_user("cell-only")
    CellAssignment.objects.create(worker=helper, cell=GridCell.objects.get(code="420106002001001"))
    assert report(helper, point=POINT_A2).community == territory.a2
    with pytest.raises(services.ServiceError, match="outside your territory"):
        report(helper, point=POINT_B1)
