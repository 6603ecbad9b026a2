"""Performance figures for any period, per grid cell, community, street or department.

三率, over the cases reported in the period (docs/metrics.md defines each with
a worked example):

- response rate: cases answered (triaged, dispatched or rejected) by their
  response deadline, among those answered or already past that deadline;
- resolution rate: cases closed resolved, by agreement or by referral, among
  the accepted (not rejected) ones; closed unsatisfied is not resolved;
- satisfaction rate: 满意 + 基本满意 among rated return visits.

Units are places (cell, community, street, district), departments, or the
week or month (Asia/Shanghai) the cases were reported in: a trend is the same
figures grouped by time. Each unit's figures come from a handful of grouped
queries, not one query per unit.

The leadership dashboard and its monthly report (frontend.dashboard) show
these figures and the two lists below (overdue_now, reopened): they never
count anything a second way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DateField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone
from viewflow.workflow.status import STATUS

from cases.models import (
    OPEN_STATES,
    Case,
    ClosureReason,
    DeadlineState,
    Satisfaction,
    State,
    TimelineEntry,
)
from grid.models import Community, Department, District, GridCell, Street

GROUPS = {
    "cell": "cell_id",
    "community": "community_id",
    "street": "street_id",
    "district": "street__district_id",
    "department": "department_id",
}
# Trends: by the local week (from Monday) or month a case was reported in.
PERIODS = {"week": TruncWeek, "month": TruncMonth}
GROUP_CHOICES = [*GROUPS, *PERIODS]
Unit = int | date | None
RESOLVED = [ClosureReason.RESOLVED, ClosureReason.AGREEMENT, ClosureReason.REFERRED]
# The system's 督办 at red and a supervisor's are both urges.
URGES = ["overdue", "urged"]


@dataclass
class UnitMetrics:
    unit_id: Unit
    reported: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    open: int = 0
    # Open and red now, and closed after having gone red at some step.
    overdue: int = 0
    closed_late: int = 0
    urges: int = 0
    closed: int = 0
    # Rejected as invalid or out of scope; a duplicate merged into another case
    # counts as merged, its reporter a supporter of that case.
    rejected: int = 0
    merged: int = 0
    # Others who reported the period's cases too ("me too", and merged duplicates).
    supporters: int = 0
    reopens: int = 0
    # Answered (triaged, dispatched or rejected), and due for an answer:
    # answered, or still waiting past the response deadline.
    triaged: int = 0
    response_due: int = 0
    triaged_in_time: int = 0
    accepted: int = 0
    resolved: int = 0
    rated: int = 0
    satisfied: int = 0
    mean_hours_to_close: float | None = None
    p90_hours_to_close: float | None = None
    # By open state (cases.models.State): steps done, and their mean hours
    # from the step's start to its completion.
    steps_done: dict[str, int] = field(default_factory=dict)
    hours_by_step: dict[str, float] = field(default_factory=dict)

    @property
    def response_rate(self) -> float | None:
        return _rate(self.triaged_in_time, self.response_due)

    @property
    def resolution_rate(self) -> float | None:
        return _rate(self.resolved, self.accepted)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied, self.rated)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (p90 of 10 values is the 9th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def unit_of(group: str, prefix: str = "") -> F | TruncWeek | TruncMonth:
    """What a case's unit is in `group`, for rows that reach the case through `prefix`."""
    if group in PERIODS:
        return PERIODS[group](
            f"{prefix}reported_at", output_field=DateField(), tzinfo=ZoneInfo(settings.TIME_ZONE)
        )
    return F(f"{prefix}{GROUPS[group]}")


def metrics(
    cases: QuerySet[Case],
    *,
    start: datetime,
    end: datetime,
    group: str = "street",
    counts_only: bool = False,
    now: datetime | None = None,
) -> dict[Unit, UnitMetrics]:
    """Figures for cases reported in [start, end), grouped by `group`.

    Pass cases already limited to the caller's territory. Each part is a pass
    over the period's cases: a city's month is ~200,000 of them. Callers that
    need only the counts and 三率 (the map's stats strip) pass counts_only=True
    and get one pass: no breakdown by state or category (`reported`,
    `by_state`, `by_category` stay empty), no urges, no step times and no
    times to close, which read every closed case of the period into Python
    for the p90.
    """
    key = unit_of(group)
    now = now or timezone.now()
    period = cases.filter(reported_at__gte=start, reported_at__lt=end)
    went_red = Exists(TimelineEntry.objects.filter(case=OuterRef("pk"), action="overdue"))
    units: dict[Unit, UnitMetrics] = {}

    def unit(pk) -> UnitMetrics:
        return units.setdefault(pk, UnitMetrics(unit_id=pk))

    if not counts_only:
        _add_breakdowns(unit, period, key)
    totals = period.values(unit=key).annotate(
        open=Count("pk", filter=Q(state__in=OPEN_STATES)),
        overdue=Count("pk", filter=Q(state__in=OPEN_STATES, deadline_state=DeadlineState.RED)),
        closed_late=Count("pk", filter=Q(went_red, state=State.CLOSED)),
        closed=Count("pk", filter=Q(state=State.CLOSED)),
        rejected=Count(
            "pk", filter=Q(state=State.REJECTED) & ~Q(closure_reason=ClosureReason.DUPLICATE)
        ),
        merged=Count("pk", filter=Q(state=State.REJECTED, closure_reason=ClosureReason.DUPLICATE)),
        supporters=Sum("supporter_count"),
        reopens=Sum("reopen_count"),
        triaged=Count("pk", filter=Q(triaged_at__isnull=False)),
        response_due=Count(
            "pk",
            filter=Q(triaged_at__isnull=False) | Q(triaged_at__isnull=True, triage_due__lt=now),
        ),
        triaged_in_time=Count("pk", filter=Q(triaged_at__lte=F("triage_due"))),
        accepted=Count("pk", filter=~Q(state=State.REJECTED)),
        resolved=Count("pk", filter=Q(state=State.CLOSED, closure_reason__in=RESOLVED)),
        rated=Count("pk", filter=~Q(satisfaction="")),
        satisfied=Count(
            "pk", filter=Q(satisfaction__in=[Satisfaction.SATISFIED, Satisfaction.BASIC])
        ),
    )
    for row in totals:
        u = unit(row.pop("unit"))
        for name, value in row.items():
            setattr(u, name, value or 0)
    if not counts_only:
        _add_urges(unit, period, group)
        _add_step_hours(unit, period, key)
        _add_durations(units, period, key)
    return units


def _add_urges(unit, period: QuerySet[Case], group: str) -> None:
    urges = TimelineEntry.objects.filter(case__in=period, action__in=URGES)
    for row in urges.values(unit=unit_of(group, "case__")).annotate(n=Count("pk")):
        unit(row["unit"]).urges = row["n"]


def _add_breakdowns(unit, period: QuerySet[Case], key) -> None:
    for row in period.values("state", unit=key).annotate(n=Count("pk")):
        u = unit(row["unit"])
        u.by_state[row["state"]] = row["n"]
        u.reported += row["n"]
    for row in period.values(unit=key, code=F("category__parent__code")).annotate(n=Count("pk")):
        unit(row["unit"]).by_category[row["code"]] = row["n"]


def _add_step_hours(unit, period: QuerySet[Case], key) -> None:
    """Each finished human step of the period's cases: viewflow's task, created → finished."""
    took = ExpressionWrapper(
        F("process__task__finished") - F("process__task__created"), output_field=DurationField()
    )
    steps = period.filter(
        process__task__flow_task_type="HUMAN", process__task__status=STATUS.DONE
    ).values(unit=key, step=F("process__task__flow_task"))
    for row in steps.annotate(n=Count("process__task"), took=Avg(took)):
        # The flow's human nodes are named after the open state they are (cases.flows).
        name = row["step"].name
        u = unit(row["unit"])
        u.steps_done[name] = row["n"]
        u.hours_by_step[name] = round(_hours(row["took"]), 2)


def _hours(took: timedelta | float) -> float:
    # Avg of a duration is a timedelta, or microseconds where the database has
    # no interval type (SQLite).
    if isinstance(took, timedelta):
        return took / timedelta(hours=1)
    return took / 3_600_000_000


def _add_durations(units: dict, period: QuerySet[Case], key) -> None:
    durations: dict[Unit, list[float]] = {}
    closed = period.filter(state=State.CLOSED, closed_at__isnull=False)
    for pk, reported_at, closed_at in closed.values_list(key, "reported_at", "closed_at"):
        durations.setdefault(pk, []).append((closed_at - reported_at) / timedelta(hours=1))
    for pk, hours in durations.items():
        unit = units.setdefault(pk, UnitMetrics(unit_id=pk))
        unit.mean_hours_to_close = round(sum(hours) / len(hours), 2)
        unit.p90_hours_to_close = round(percentile(hours, 0.9), 2)


SUMMED = [
    "reported",
    "open",
    "overdue",
    "closed_late",
    "urges",
    "closed",
    "rejected",
    "merged",
    "supporters",
    "reopens",
    "triaged",
    "response_due",
    "triaged_in_time",
    "accepted",
    "resolved",
    "rated",
    "satisfied",
]


def combine(units: dict[Unit, UnitMetrics]) -> UnitMetrics:
    """One unit's figures from several (the whole territory from its streets).

    Counts and breakdowns add up and step times are weighted by the steps
    done; the hours to close do not combine (a p90 of p90s means nothing).
    """
    total = UnitMetrics(unit_id=None)
    step_hours: dict[str, float] = {}
    for unit in units.values():
        for name in SUMMED:
            setattr(total, name, getattr(total, name) + getattr(unit, name))
        for mine, theirs in (
            (total.by_state, unit.by_state),
            (total.by_category, unit.by_category),
            (total.steps_done, unit.steps_done),
        ):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        for step, hours in unit.hours_by_step.items():
            step_hours[step] = step_hours.get(step, 0.0) + hours * unit.steps_done[step]
    total.hours_by_step = {
        step: round(hours / total.steps_done[step], 2) for step, hours in step_hours.items()
    }
    return total


def overdue_now(cases: QuerySet[Case]) -> QuerySet[Case]:
    """Open cases past their step's deadline now (red), whenever reported: the `overdue`
    of metrics() without the period, most overdue first."""
    return cases.filter(state__in=OPEN_STATES, deadline_state=DeadlineState.RED).order_by(
        "step_due", "pk"
    )


def reopened(cases: QuerySet[Case], *, start: datetime, end: datetime) -> QuerySet[Case]:
    """The period's cases sent back at least once: those counted in `reopens`."""
    return cases.filter(reported_at__gte=start, reported_at__lt=end, reopen_count__gt=0).order_by(
        "-reopen_count", "-reported_at"
    )


def unit_names(group: str, units: dict[Unit, UnitMetrics]) -> dict[Unit, dict[str, str | None]]:
    """Each unit's public code and name: a department (no code) by its id, a cell by its
    code, a week or month by its first day."""
    if group in PERIODS:
        return {day: {"code": day.isoformat(), "name": day.isoformat()} for day in units if day}
    model = {
        "cell": GridCell,
        "community": Community,
        "street": Street,
        "district": District,
        "department": Department,
    }[group]
    rows = model.objects.filter(pk__in=[pk for pk in units if pk is not None])
    if model is Department:
        return {d.pk: {"code": str(d.pk), "name": d.name} for d in rows.only("name")}
    if model is GridCell:
        return {c.pk: {"code": c.code, "name": c.code} for c in rows.only("code")}
    return {u.pk: {"code": u.code, "name": u.name} for u in rows.only("code", "name")}


def unit_rows(group: str, units: dict[Unit, UnitMetrics]) -> list[dict]:
    """The units as /api/v1/metrics/ answers them (and the dashboard draws them)."""
    names = unit_names(group, units)
    return [
        {
            **names.get(key, {"code": None, "name": None}),
            **{name: value for name, value in vars(u).items() if name != "unit_id"},
            "response_rate": u.response_rate,
            "resolution_rate": u.resolution_rate,
            "satisfaction_rate": u.satisfaction_rate,
        }
        for key, u in units.items()
    ]
