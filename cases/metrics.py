"""Performance figures for any period, per grid cell, community, street or department.

三率, over the cases reported in the period (docs/metrics.md defines each with
a worked example):

- response rate: cases answered (triaged, dispatched or rejected) by their
  response deadline, among those answered or already past that deadline;
- resolution rate: cases closed resolved, by agreement or by referral, among
  the accepted (not rejected) ones; closed unsatisfied is not resolved;
- satisfaction rate: 满意 + 基本满意 among rated return visits.

Each unit's figures come from a handful of grouped queries, not one query per unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from cases.models import (
    OPEN_STATES,
    Case,
    ClosureReason,
    DeadlineState,
    Satisfaction,
    State,
    TimelineEntry,
)

GROUPS = {
    "cell": "cell_id",
    "community": "community_id",
    "street": "street_id",
    "department": "department_id",
}
RESOLVED = [ClosureReason.RESOLVED, ClosureReason.AGREEMENT, ClosureReason.REFERRED]
# The system's 督办 at red and a supervisor's are both urges.
URGES = ["overdue", "urged"]


@dataclass
class UnitMetrics:
    unit_id: int | None
    reported: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    open: int = 0
    # Open and red now, and closed after having gone red at some step.
    overdue: int = 0
    closed_late: int = 0
    urges: int = 0
    closed: int = 0
    rejected: int = 0
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


def metrics(
    cases: QuerySet[Case],
    *,
    start: datetime,
    end: datetime,
    group: str = "street",
    counts_only: bool = False,
    now: datetime | None = None,
) -> dict[int | None, UnitMetrics]:
    """Figures for cases reported in [start, end), grouped by `group`.

    Pass cases already limited to the caller's territory. Each part is a pass
    over the period's cases: a city's month is ~200,000 of them. Callers that
    need only the counts and 三率 (the map's stats strip) pass counts_only=True
    and get one pass: no breakdown by state or category (`reported`,
    `by_state`, `by_category` stay empty), no urges and no times to close,
    which read every closed case of the period into Python for the p90.
    """
    key = GROUPS[group]
    now = now or timezone.now()
    period = cases.filter(reported_at__gte=start, reported_at__lt=end)
    went_red = Exists(TimelineEntry.objects.filter(case=OuterRef("pk"), action="overdue"))
    units: dict[int | None, UnitMetrics] = {}

    def unit(pk) -> UnitMetrics:
        return units.setdefault(pk, UnitMetrics(unit_id=pk))

    if not counts_only:
        _add_breakdowns(unit, period, key)
    totals = period.values(key).annotate(
        open=Count("pk", filter=Q(state__in=OPEN_STATES)),
        overdue=Count("pk", filter=Q(state__in=OPEN_STATES, deadline_state=DeadlineState.RED)),
        closed_late=Count("pk", filter=Q(went_red, state=State.CLOSED)),
        closed=Count("pk", filter=Q(state=State.CLOSED)),
        rejected=Count("pk", filter=Q(state=State.REJECTED)),
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
        u = unit(row.pop(key))
        for name, value in row.items():
            setattr(u, name, value or 0)
    if not counts_only:
        _add_urges(unit, period, key)
        _add_durations(units, period, key)
    return units


def _add_urges(unit, period: QuerySet[Case], key: str) -> None:
    urges = TimelineEntry.objects.filter(case__in=period, action__in=URGES)
    for row in urges.values(f"case__{key}").annotate(n=Count("pk")):
        unit(row[f"case__{key}"]).urges = row["n"]


def _add_breakdowns(unit, period: QuerySet[Case], key: str) -> None:
    for row in period.values(key, "state").annotate(n=Count("pk")):
        u = unit(row[key])
        u.by_state[row["state"]] = row["n"]
        u.reported += row["n"]
    for row in period.values(key, code=F("category__parent__code")).annotate(n=Count("pk")):
        unit(row[key]).by_category[row["code"]] = row["n"]


def _add_durations(units: dict, period: QuerySet[Case], key: str) -> None:
    durations: dict[int | None, list[float]] = {}
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
    "reopens",
    "triaged",
    "response_due",
    "triaged_in_time",
    "accepted",
    "resolved",
    "rated",
    "satisfied",
]


def combine(units: dict[int | None, UnitMetrics]) -> UnitMetrics:
    """One unit's figures from several (the whole territory from its streets)."""
    total = UnitMetrics(unit_id=None)
    for unit in units.values():
        for name in SUMMED:
            setattr(total, name, getattr(total, name) + getattr(unit, name))
    return total
