"""三率 and the rest, per unit and period."""

from datetime import timedelta

from django.utils import timezone

from cases import services
from cases.metrics import metrics, percentile
from cases.models import Case, Satisfaction
from tests.base import report


def close_on_site(cast, case, satisfaction=Satisfaction.SATISFIED):
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_handle(actor=cast.worker, number=case.number, result="已处理")
    services.case_verify(actor=cast.worker2, number=case.number, passed=True)
    services.case_return_visit(actor=cast.dispatcher, number=case.number, satisfaction=satisfaction)


def test_it_computes_the_three_rates_per_community(cast, territory):
    closed = report(cast.worker)
    close_on_site(cast, closed)
    unsatisfied = report(cast.worker)
    close_on_site(cast, unsatisfied, Satisfaction.BASIC)
    late = report(cast.worker)
    Case.objects.filter(pk=late.pk).update(triage_due=late.reported_at - timedelta(hours=1))
    services.case_triage(actor=cast.dispatcher, number=late.number, route="onsite")
    rejected = report(cast.worker)
    services.case_reject(actor=cast.dispatcher, number=rejected.number, reason="invalid")
    report(cast.worker)  # still waiting for triage

    now = timezone.now()
    figures = metrics(
        Case.objects.all(),
        start=now - timedelta(days=1),
        end=now + timedelta(days=1),
        group="community",
    )
    a1 = figures[territory.a1.pk]
    assert a1.reported == 5
    assert a1.by_state == {"closed": 2, "onsite": 1, "rejected": 1, "triage": 1}
    assert a1.by_category == {"04": 5}
    assert a1.open == 2
    assert a1.triaged == 4
    assert a1.response_rate == 0.75  # the late one missed its triage limit
    assert a1.accepted == 4
    assert a1.resolution_rate == 0.5
    assert a1.satisfaction_rate == 1.0
    assert a1.p90_hours_to_close is not None
    assert set(figures) == {territory.a1.pk}


def test_the_period_excludes_cases_reported_outside_it(cast):
    report(cast.worker)
    now = timezone.now()
    figures = metrics(
        Case.objects.all(), start=now + timedelta(hours=1), end=now + timedelta(days=1)
    )
    assert figures == {}


def test_overdue_and_reopens_are_counted(cast, territory):
    case = report(cast.worker)
    services.deadline_sweep(now=case.step_due)
    close_on_site(cast, report(cast.worker))
    reopened = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=reopened.number, route="onsite")
    services.case_handle(actor=cast.worker, number=reopened.number, result="x")
    services.case_verify(actor=cast.worker2, number=reopened.number, passed=False, note="未完成")
    now = timezone.now()
    street = metrics(
        Case.objects.all(), start=now - timedelta(days=1), end=now + timedelta(days=30)
    )[territory.street_a.pk]
    assert street.overdue == 1
    assert street.reopens == 1


def test_percentile_is_nearest_rank():
    assert percentile(list(range(1, 11)), 0.9) == 9
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([], 0.9) is None


def test_the_three_rates_match_the_worked_example_of_docs_metrics(cast, territory):
    """The worked example in docs/metrics.md, case by case, computed by hand there."""
    now = timezone.now()

    def reported(**kwargs):
        return report(cast.coordinator, **kwargs)

    # 1. Triaged in time, handled, verified, 满意: responded in time, resolved, satisfied.
    one = reported()
    close_on_site(cast, one)
    # 2. Triaged an hour late, closed 不满意 after its one reopen: late, not resolved.
    two = reported()
    Case.objects.filter(pk=two.pk).update(triage_due=two.reported_at - timedelta(hours=1))
    close_on_site(cast, two, Satisfaction.UNSATISFIED)
    for _ in range(1):  # the reopen took it back to the worker: handle and verify again
        services.case_handle(actor=cast.worker, number=two.number, result="再次处理")
        services.case_verify(actor=cast.worker2, number=two.number, passed=True)
        services.case_return_visit(
            actor=cast.dispatcher, number=two.number, satisfaction=Satisfaction.UNSATISFIED
        )
    # 3. A major hazard, dispatched by the street in time: responded in time, still open.
    three = reported(code="0301", major_hazard=True)
    services.case_dispatch(actor=cast.coordinator, number=three.number, department=cast.department)
    # 4. Still waiting for triage, past its deadline: counts against the response rate.
    four = reported()
    Case.objects.filter(pk=four.pk).update(triage_due=now - timedelta(minutes=5))
    # 5. Still waiting, deadline ahead: not yet due, left out of the response rate.
    reported()
    # 6. Rejected in time: answered in time; not accepted, so outside the resolution rate.
    six = reported()
    services.case_reject(actor=cast.dispatcher, number=six.number, reason="invalid")

    figures = metrics(
        Case.objects.all(), start=now - timedelta(days=1), end=now + timedelta(days=1), now=now
    )
    street = figures[territory.street_a.pk]
    assert (street.triaged_in_time, street.response_due) == (3, 5)  # 1, 3, 6 of 1, 2, 3, 4, 6
    assert street.response_rate == 0.6
    assert (street.resolved, street.accepted) == (1, 5)  # 1 of 1–5
    assert street.resolution_rate == 0.2
    assert (street.satisfied, street.rated) == (1, 2)  # 1 of 1, 2
    assert street.satisfaction_rate == 0.5
    assert Case.objects.get(pk=two.pk).closure_reason == "unsatisfied_final"


def test_overdue_counts_open_red_cases_and_closed_late_ones_and_urges(cast, territory):
    late = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=late.number, route="onsite")
    late.refresh_from_db()
    services.deadline_sweep(now=late.step_due)  # red: the system's 督办
    services.case_handle(actor=cast.worker, number=late.number, result="已处理")
    services.case_verify(actor=cast.worker2, number=late.number, passed=True)
    services.case_return_visit(
        actor=cast.dispatcher, number=late.number, satisfaction=Satisfaction.SATISFIED
    )
    still_red = report(cast.worker)
    services.deadline_sweep(now=still_red.step_due)
    services.case_urge(actor=cast.leader, number=still_red.number, note="今天办结")
    now = timezone.now()
    street = metrics(
        Case.objects.all(), start=now - timedelta(days=1), end=now + timedelta(days=1)
    )[territory.street_a.pk]
    assert (street.overdue, street.closed_late) == (1, 1)
    assert street.urges == 3  # two at red by the system, one by the leader
