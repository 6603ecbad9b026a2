"""Deadlines: yellow at 80 %, red past the limit, one escalation (督办).

The clock is moved, never slept.
"""

import threading
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import services
from cases.models import Case, DeadlineRule, DeadlineState, Notification, State, TimelineEntry
from cases.timers import sweep
from tests.base import build_cast, build_territory, report


def test_a_step_gets_its_limit_from_category_and_urgency(cast):
    general = report(cast.worker, code="0401")
    hazard = report(cast.worker, code="0303", urgency="general")
    services.case_triage(actor=cast.dispatcher, number=general.number, route="onsite")
    services.case_triage(actor=cast.dispatcher, number=hazard.number, route="onsite")
    general.refresh_from_db()
    hazard.refresh_from_db()
    # Handling: 7 working days by default, 3 for safety hazards (a category rule).
    assert general.step_due - general.step_started >= timedelta(days=7)
    assert hazard.step_due < general.step_due


def test_an_edited_rule_changes_the_next_deadline(cast):
    report(cast.worker, urgency="emergency")  # the rules are cached now
    rule = DeadlineRule.objects.get(step="triage", urgency="emergency", category=None)
    rule.amount = 5
    rule.save()  # as the admin does: this process's cache is cleared
    case = report(cast.worker, urgency="emergency")
    assert case.step_due - case.step_started == timedelta(hours=5)


def test_it_turns_yellow_then_red_and_escalates_once(cast):
    case = report(cast.worker)
    assert case.deadline_state == DeadlineState.GREEN

    assert services.deadline_sweep(now=case.step_warn_at - timedelta(seconds=1)) == 0
    assert services.deadline_sweep(now=case.step_warn_at) == 1
    case.refresh_from_db()
    assert case.deadline_state == DeadlineState.YELLOW
    assert services.deadline_sweep(now=case.step_warn_at) == 0

    assert services.deadline_sweep(now=case.step_due) == 1
    case.refresh_from_db()
    assert case.deadline_state == DeadlineState.RED
    assert case.supervised
    assert services.deadline_sweep(now=case.step_due + timedelta(days=3)) == 0

    actions = list(case.timeline.values_list("action", flat=True))
    assert actions == ["reported", "near_deadline", "overdue"]
    notified = set(
        Notification.objects.filter(case=case, kind="overdue").values_list(
            "user__username", flat=True
        )
    )
    assert notified == {"coordinator", "leader"}


def test_the_next_step_starts_a_fresh_green_clock(cast):
    case = report(cast.worker)
    services.deadline_sweep(now=case.step_due)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    case.refresh_from_db()
    assert case.deadline_state == DeadlineState.GREEN
    assert case.state == State.ONSITE
    assert case.deadline_check_at == case.step_warn_at


def test_a_sweep_reads_only_due_cases(cast):
    cases = [report(cast.worker) for _ in range(5)]
    now = cases[0].step_warn_at - timedelta(minutes=1)
    with CaptureQueriesContext(connection) as queries:
        assert services.deadline_sweep(now=now) == 0
    # One statement besides the transaction's own: the indexed read of due cases.
    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1 and "deadline_check_at" in statements[0]


def test_a_batch_of_due_steps_costs_the_same_statements_as_one(cast):
    """A backlog after an outage is swept in batches, not one transaction per case."""

    def statements_to_sweep(count: int) -> int:
        cases = [report(cast.worker) for _ in range(count)]
        due = max(c.step_due for c in cases)
        with CaptureQueriesContext(connection) as queries:
            assert services.deadline_sweep(now=due) == count
        return len(queries)

    assert statements_to_sweep(6) == statements_to_sweep(1)
    entries = TimelineEntry.objects.filter(action="overdue").order_by("seq")
    assert entries.count() == 7
    seqs = [e.seq for e in entries][:6]
    assert seqs == list(range(seqs[0], seqs[0] + 6))
    assert overdue_notices() == 7 * 2


def overdue_notices() -> int:
    """Each street supervisor's notices of overdue cases (a digest counts its cases)."""
    return sum(len(n.digest_of) or 1 for n in Notification.objects.filter(kind="overdue"))


def test_closed_cases_are_never_swept(cast):
    case = report(cast.worker)
    services.case_reject(actor=cast.dispatcher, number=case.number, reason="invalid")
    case.refresh_from_db()
    assert case.deadline_check_at is None
    assert services.deadline_sweep(now=case.reported_at + timedelta(days=30)) == 0


def test_the_timer_loop_sweeps_deadlines(cast):
    case = report(cast.worker)
    Case.objects.filter(pk=case.pk).update(
        step_warn_at=case.reported_at - timedelta(hours=2),
        step_due=case.reported_at - timedelta(hours=1),
        deadline_check_at=case.reported_at - timedelta(hours=2),
    )
    sweep()
    case.refresh_from_db()
    assert case.deadline_state == DeadlineState.RED


def test_two_timer_processes_escalate_exactly_once(reference_data):
    cast = build_cast(build_territory())
    cases = [report(cast.worker) for _ in range(6)]
    due = max(c.step_due for c in cases)
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def timer_process():
        try:
            barrier.wait()
            results.append(services.deadline_sweep(now=due))
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=timer_process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert sum(results) == 6
    for case in cases:
        assert case.timeline.filter(action="overdue").count() == 1
    assert overdue_notices() == 6 * 2


def test_a_tick_sweeps_a_backlog_in_batches(cast, monkeypatch):
    cases = [report(cast.worker) for _ in range(5)]
    monkeypatch.setattr("cases.timers.BATCH", 2)
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(
        step_due=timezone.now() - timedelta(minutes=1),
        deadline_check_at=timezone.now() - timedelta(minutes=1),
    )
    assert sweep() == 5
    assert set(Case.objects.values_list("deadline_state", flat=True)) == {DeadlineState.RED}


def test_a_yellow_step_checked_early_waits_for_its_due_time(cast):
    """A hand-edited row must not head every batch and starve the due ones behind it."""
    early, due = report(cast.worker), report(cast.worker)
    now = due.step_due
    Case.objects.filter(pk=early.pk).update(
        deadline_state=DeadlineState.YELLOW,
        step_due=now + timedelta(days=1),
        deadline_check_at=now - timedelta(days=1),
    )
    assert services.deadline_sweep(now=now, batch=1) == 0
    early.refresh_from_db()
    assert early.deadline_check_at == early.step_due
    assert services.deadline_sweep(now=now, batch=1) == 1
