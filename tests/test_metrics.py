"""三率 and the rest, per unit and period."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from viewflow.workflow.models import Task

from cases import services
from cases.metrics import combine, metrics, overdue_now, percentile, reopened
from cases.models import Case, Satisfaction
from tests.base import POINT_B1, api, report

SHANGHAI = ZoneInfo("Asia/Shanghai")


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


def test_trends_group_the_figures_by_the_local_week_and_month_of_the_report(cast):
    # Sunday 29 Nov 2026 20:00 UTC is Monday 04:00 in Shanghai: the new week.
    reported = {
        datetime(2026, 11, 29, 20, tzinfo=UTC): date(2026, 11, 30),
        datetime(2026, 11, 29, 15, tzinfo=UTC): date(2026, 11, 23),  # Sunday 23:00 there
        datetime(2026, 10, 31, 17, tzinfo=UTC): date(2026, 10, 26),  # 1 Nov 01:00 there
    }
    for at in reported:
        case = report(cast.worker)
        Case.objects.filter(pk=case.pk).update(reported_at=at)
    span = {
        "start": datetime(2026, 10, 1, tzinfo=SHANGHAI),
        "end": datetime(2027, 1, 1, tzinfo=SHANGHAI),
    }
    weeks = metrics(Case.objects.all(), group="week", **span)
    assert {week: u.reported for week, u in weeks.items()} == dict.fromkeys(reported.values(), 1)
    months = metrics(Case.objects.all(), group="month", **span)
    assert {month: u.reported for month, u in months.items()} == {date(2026, 11, 1): 3}

    answer = api(cast.leader).get(
        "/api/v1/metrics/", {"group": "week", "start": "2026-10-01", "end": "2027-01-01"}
    )
    assert answer.status_code == 200, answer.json()
    assert sorted((u["code"], u["reported"]) for u in answer.json()["units"]) == [
        ("2026-10-26", 1),
        ("2026-11-23", 1),
        ("2026-11-30", 1),
    ]


def test_it_averages_the_time_each_step_took(cast, territory):
    for minutes in (60, 120):
        case = report(cast.worker)
        close_on_site(cast, case)
        triage = Task.objects.get(
            process=case.process_id,
            flow_task_type="HUMAN",
            status="DONE",
            flow_task="cases/flows.CaseFlow.triage",
        )
        Task.objects.filter(pk=triage.pk).update(
            finished=triage.created + timedelta(minutes=minutes)
        )
    report(cast.worker)  # its triage is not done: not counted
    now = timezone.now()
    street = metrics(
        Case.objects.all(), start=now - timedelta(days=1), end=now + timedelta(days=1)
    )[territory.street_a.pk]
    assert street.steps_done == {"triage": 2, "onsite": 2, "verify": 2, "return_visit": 2}
    assert street.hours_by_step["triage"] == 1.5
    assert street.hours_by_step["onsite"] < 0.1


def test_a_district_is_its_streets_combined(cast, territory):
    close_on_site(cast, report(cast.worker))
    report(cast.worker)
    report(cast.outsider, point=POINT_B1)
    now = timezone.now()
    span = {"start": now - timedelta(days=1), "end": now + timedelta(days=1)}
    district = metrics(Case.objects.all(), group="district", **span)
    assert set(district) == {territory.district.pk}
    whole = district[territory.district.pk]
    streets = combine(metrics(Case.objects.all(), group="street", **span))
    assert (whole.reported, whole.by_state) == (3, {"closed": 1, "triage": 2})
    assert (streets.reported, streets.by_state) == (whole.reported, whole.by_state)
    assert streets.by_category == whole.by_category == {"04": 3}
    assert streets.hours_by_step == whole.hours_by_step
    assert streets.resolution_rate == whole.resolution_rate == round(1 / 3, 4)


def test_the_lists_hold_the_cases_the_figures_count(cast, territory):
    red = report(cast.worker)
    services.deadline_sweep(now=red.step_due)
    close_on_site(cast, report(cast.worker))
    sent_back = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=sent_back.number, route="onsite")
    services.case_handle(actor=cast.worker, number=sent_back.number, result="x")
    services.case_verify(actor=cast.worker2, number=sent_back.number, passed=False, note="未完成")
    now = timezone.now()
    span = {"start": now - timedelta(days=1), "end": now + timedelta(days=30)}
    street = metrics(Case.objects.all(), **span)[territory.street_a.pk]
    assert [c.number for c in overdue_now(Case.objects.all())] == [red.number]
    assert street.overdue == 1
    assert [c.number for c in reopened(Case.objects.all(), **span)] == [sent_back.number]
    assert street.reopens == 1


def test_a_merged_duplicate_counts_as_merged_and_its_reporter_as_a_supporter(cast, territory):
    kept = report(cast.dispatcher, reporter_name="王阿姨")
    duplicate = report(cast.worker)
    services.case_reject(
        actor=cast.dispatcher, number=duplicate.number, reason="duplicate", duplicate_of=kept.number
    )
    invalid = report(cast.worker)
    services.case_reject(actor=cast.dispatcher, number=invalid.number, reason="invalid")
    services.case_support(actor=cast.mediator, number=kept.number, words="我也看到")
    now = timezone.now()
    a1 = metrics(
        Case.objects.all(),
        start=now - timedelta(days=1),
        end=now + timedelta(days=1),
        group="community",
    )[territory.a1.pk]
    assert (a1.rejected, a1.merged) == (1, 1)
    assert a1.supporters == 2  # the merged case's reporter and one "me too"
    assert a1.accepted == 1  # the kept case; a merged duplicate is not a second one
    assert combine({1: a1, 2: a1}).merged == 2
