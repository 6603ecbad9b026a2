"""The person who must act is told: each kind of notification comes from the
service that causes it, to the people the loop table names, never to the actor;
a flood of one kind becomes one digest that lists its cases."""

from __future__ import annotations

from datetime import timedelta

from cases import services
from cases.models import Case, Notification, NotificationKind, Satisfaction
from tests.base import api, report

Kind = NotificationKind


def told(kind: str, case: Case | None = None) -> set[str]:
    rows = Notification.objects.filter(kind=kind)
    if case is not None:
        rows = rows.filter(case=case)
    return set(rows.values_list("user__username", flat=True))


def onsite(cast) -> Case:
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    return case


def test_it_tells_the_community_dispatcher_of_a_new_case_in_their_inbox(cast):
    case = report(cast.worker)
    assert told(Kind.TASK, case) == {"dispatcher"}
    note = Notification.objects.get(kind=Kind.TASK, case=case)
    assert case.number in note.text


def test_it_tells_the_cell_workers_when_triage_sends_a_case_on_site(cast):
    case = onsite(cast)
    # The dispatcher had it (a new case), and sent it on: not told of their own act.
    assert told(Kind.TASK, case) == {"dispatcher", "worker", "worker2"}
    assert Notification.objects.filter(user=cast.dispatcher, case=case).count() == 1


def test_it_tells_the_next_owner_when_a_case_is_returned_with_the_reason(cast):
    case = onsite(cast)
    services.case_return(actor=cast.worker, number=case.number, reason="不属于本网格")
    assert told(Kind.RETURNED, case) == {"dispatcher"}
    assert "不属于本网格" in Notification.objects.get(kind=Kind.RETURNED).text


def test_it_tells_the_department_that_handled_it_and_the_dispatcher_who_sent_it(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="street_dispatch")
    services.case_dispatch(actor=cast.coordinator, number=case.number, department=cast.department)
    services.case_return(actor=cast.handler, number=case.number, reason="非本部门职责")
    # Back at the street's dispatch: its coordinator, who had also sent it on.
    assert told(Kind.RETURNED, case) == {"coordinator"}


def test_it_tells_the_handler_and_the_owners_when_the_resident_reopens_a_case(cast):
    case = onsite(cast)
    services.case_handle(actor=cast.worker, number=case.number, result="已清理")
    services.case_verify(actor=cast.worker2, number=case.number, passed=True)
    services.case_return_visit(
        actor=cast.dispatcher, number=case.number, satisfaction=Satisfaction.UNSATISFIED
    )
    assert told(Kind.REOPENED, case) == {"worker", "worker2"}


def test_it_tells_the_handler_when_verification_fails(cast):
    case = onsite(cast)
    services.case_handle(actor=cast.worker, number=case.number, result="已清理")
    services.case_verify(actor=cast.worker2, number=case.number, passed=False, note="仍有杂物")
    assert told(Kind.REOPENED, case) == {"worker"}
    assert "仍有杂物" in Notification.objects.get(kind=Kind.REOPENED).text


def test_it_tells_the_owners_of_an_urged_step(cast):
    case = onsite(cast)
    services.case_urge(actor=cast.leader, number=case.number, note="今天办结")
    assert told(Kind.URGE, case) == {"worker", "worker2"}


def test_it_tells_the_owners_when_their_step_turns_yellow_then_red(cast):
    case = onsite(cast)
    case.refresh_from_db()
    services.deadline_sweep(now=case.step_warn_at)
    assert told(Kind.DUE_SOON) == {"worker", "worker2"}
    assert told(Kind.LATE) == set()
    services.deadline_sweep(now=case.step_due)
    assert told(Kind.LATE) == {"worker", "worker2"}
    # One level up, as before: the street's leaders and coordinators.
    assert told(Kind.OVERDUE) == {"coordinator", "leader"}


def test_it_alerts_the_streets_leaders_and_coordinators_of_a_major_hazard(cast):
    case = report(cast.worker, code="0303", major_hazard=True, urgency="emergency")
    assert told(Kind.HAZARD, case) == {"coordinator", "leader"}
    # The coordinator, who owns the step too, is not told twice.
    assert Notification.objects.filter(user=cast.coordinator, case=case).count() == 1
    assert not Notification.objects.filter(user=cast.outsider).exists()


def test_it_tells_the_worker_who_reported_it_that_the_case_is_closed(cast):
    case = onsite(cast)
    services.case_handle(actor=cast.worker2, number=case.number, result="已清理")
    services.case_verify(actor=cast.worker, number=case.number, passed=True)
    services.case_return_visit(
        actor=cast.dispatcher, number=case.number, satisfaction=Satisfaction.SATISFIED
    )
    assert told(Kind.CLOSED, case) == {"worker"}


def test_a_sweep_that_turns_many_cases_red_gives_each_person_one_digest(cast, client, settings):
    settings.NOTIFY_DIGEST_OVER = 5
    cases = [onsite(cast) for _ in range(7)]
    due = max(Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("step_due", flat=True))
    services.deadline_sweep(now=due + timedelta(minutes=1))
    digest = Notification.objects.get(user=cast.worker, kind=Kind.LATE)
    assert digest.case is None
    assert sorted(digest.digest_of) == sorted(c.number for c in cases)
    assert "7" in digest.text
    assert Notification.objects.filter(user=cast.leader, kind=Kind.OVERDUE).count() == 1

    client.force_login(cast.worker)
    listing = client.get("/cases/notifications/").content.decode()
    assert f"/cases/notifications/{digest.pk}/" in listing
    page = client.get(f"/cases/notifications/{digest.pk}/").content.decode()
    assert all(f"/cases/{c.number}/" in page for c in cases)
    late = [n for n in api(cast.worker).get("/api/v1/notifications/").json() if n["kind"] == "late"]
    assert [(n["case"], sorted(n["cases"])) for n in late] == [(None, sorted(digest.digest_of))]
    # Someone else's digest is nobody else's business.
    client.force_login(cast.outsider)
    assert client.get(f"/cases/notifications/{digest.pk}/").status_code == 404


def test_a_few_notices_stay_single_below_the_digest_threshold(cast, settings):
    settings.NOTIFY_DIGEST_OVER = 5
    cases = [onsite(cast) for _ in range(3)]
    services.deadline_sweep(now=max(c.step_due for c in Case.objects.all()))
    assert Notification.objects.filter(user=cast.worker, kind=Kind.LATE).count() == len(cases)
    assert not Notification.objects.filter(case__isnull=True).exists()


def test_many_stranded_cases_are_one_alert_a_day_not_one_each(cast, territory, settings):
    from cases.services import ownership
    from grid.models import Post, Role
    from tests.base import make_user

    settings.NOTIFY_DIGEST_OVER = 5
    # Nobody at all in community B2: its cases are only a superuser's.
    cases = [report(cast.admin, point=(114.312, 30.548)) for _ in range(7)]
    leader = make_user("leader-b")
    Post.objects.create(user=leader, role=Role.LEADER, street=territory.street_b)
    assert ownership.alert_unowned() == 7
    (digest,) = Notification.objects.filter(user=leader, kind=Kind.UNOWNED)
    assert sorted(digest.digest_of) == sorted(c.number for c in cases)
    assert ownership.alert_unowned() == 0  # the digest counts for each of its cases
