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
