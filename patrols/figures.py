"""What the leader's map and the per-worker table show of patrols.

Both start from the viewer's Territory: a patrol belongs where most of its
track lies (Patrol.street/community/cell), a case where it was reported.
Each function runs a fixed number of queries, whatever the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from cases.calendar import CHINA
from cases.models import Case, Source, State, TimelineEntry
from grid.models import CellAssignment
from grid.territory import Territory
from patrols.models import CheckIn, Patrol, PatrolCase


def visible_patrols(territory: Territory):
    return Patrol.objects.filter(territory.q())


def day_span(day: date) -> tuple[datetime, datetime]:
    """A calendar day in China (Asia/Shanghai), as the streets keep it."""
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
    return start, start + timedelta(days=1)


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def day_layer(territory: Territory, day: date) -> dict:
    """The day's patrols as GeoJSON: a track per patrol, a point per check-in."""
    start, end = day_span(day)
    patrols = list(
        visible_patrols(territory)
        .filter(started_at__gte=start, started_at__lt=end)
        .select_related("worker", "cell")
        .prefetch_related("cells")
        .order_by("started_at", "pk")
    )
    check_ins = (
        CheckIn.objects.filter(patrol__in=[p.pk for p in patrols])
        .select_related("place")
        .order_by("at")
    )
    features = [
        {
            "type": "Feature",
            "id": f"patrol-{p.pk}",
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in p.track.coords]},
            "properties": {
                "kind": "patrol",
                "patrol": p.pk,
                "worker": _name(p.worker),
                "worker_id": p.worker_id,
                "cell": p.cell.code if p.cell else None,
                "cells": sorted(c.code for c in p.cells.all()),
                "length_m": p.length_m,
                "duration_s": p.duration_s,
                "started_at": p.started_at.isoformat(),
                "ended_at": p.ended_at.isoformat(),
            },
        }
        for p in patrols
    ]
    features += [
        {
            "type": "Feature",
            "id": f"check-in-{c.pk}",
            "geometry": {"type": "Point", "coordinates": [c.point.x, c.point.y]},
            "properties": {
                "kind": "check_in",
                "patrol": c.patrol_id,
                "place": c.place.name,
                "place_kind": c.place.get_kind_display(),
                "at": c.at.isoformat(),
                "distance_m": c.distance_m,
            },
        }
        for c in check_ins
    ]
    return {"type": "FeatureCollection", "date": day.isoformat(), "features": features}


@dataclass
class WorkerRow:
    worker_id: int
    name: str
    patrols: int = 0
    length_m: float = 0.0
    duration_s: int = 0
    cells: int = 0
    check_ins: int = 0
    found: set[int] = field(default_factory=set)
    handled: set[int] = field(default_factory=set)
    on_time: set[int] = field(default_factory=set)

    @property
    def length_km(self) -> float:
        return round(self.length_m / 1000, 2)

    @property
    def hours(self) -> float:
        return round(self.duration_s / 3600, 1)

    @property
    def cases_found(self) -> int:
        return len(self.found)

    @property
    def handled_on_site(self) -> int:
        return len(self.handled)

    @property
    def handled_on_time(self) -> int:
        return len(self.on_time)


def worker_table(territory: Territory, start: datetime, end: datetime) -> list[WorkerRow]:
    """Per worker of the territory, their patrols and cases from start to end.

    Workers are those covering a cell of the territory now, and whoever
    patrolled, reported as a grid worker or handled a case on site in it then.
    Cases found: reported by the worker in the period, or logged on one of
    their patrols; handled on site: the on-site step (处置)
    completed by the worker; on time: before that step's deadline.
    """
    patrols = visible_patrols(territory).filter(started_at__gte=start, started_at__lt=end)
    totals = patrols.values("worker_id").annotate(
        n=Count("pk"), length=Coalesce(Sum("length_m"), 0.0), seconds=Coalesce(Sum("duration_s"), 0)
    )
    cells = (
        Patrol.cells.through.objects.filter(patrol__in=patrols.values("pk"))
        .values("patrol__worker_id")
        .annotate(n=Count("gridcell_id", distinct=True))
    )
    check_ins = (
        CheckIn.objects.filter(patrol__in=patrols.values("pk"))
        .values("patrol__worker_id")
        .annotate(n=Count("pk"))
    )
    assigned = CellAssignment.objects.current().filter(cell__in=territory.cells().values("pk"))
    worker_ids = set(assigned.values_list("worker_id", flat=True))
    rows: dict[int, WorkerRow] = {}
    for t in totals:
        worker_ids.add(t["worker_id"])
    # Workers who found or handled a case here then but cover no cell here now
    # (moved or left): their work still counts where it was done.
    found_here = Case.objects.filter(
        territory.q(), source=Source.GRID_WORKER, reported_at__gte=start, reported_at__lt=end
    ).values("reporter_id")
    handled_here = _handled_on_site(territory, start, end).values("actor_id")
    users = (
        get_user_model()
        .objects.filter(Q(pk__in=worker_ids) | Q(pk__in=found_here) | Q(pk__in=handled_here))
        .order_by("pk")
    )
    for user in users:
        rows[user.pk] = WorkerRow(user.pk, _name(user))
    for t in totals:
        row = rows[t["worker_id"]]
        row.patrols, row.length_m, row.duration_s = t["n"], t["length"], t["seconds"]
    for c in cells:
        rows[c["patrol__worker_id"]].cells = c["n"]
    for c in check_ins:
        rows[c["patrol__worker_id"]].check_ins = c["n"]
    _cases(territory, rows, patrols, start, end)
    return sorted(rows.values(), key=lambda r: (-r.patrols, -r.length_m, r.name))


def _handled_on_site(territory: Territory, start: datetime, end: datetime):
    """The on-site steps (处置) completed in the territory from start to end."""
    return TimelineEntry.objects.filter(
        territory.q(), action="handled", from_state=State.ONSITE, at__gte=start, at__lt=end
    )


def _cases(territory: Territory, rows: dict[int, WorkerRow], patrols, start, end) -> None:
    cases = Case.objects.filter(territory.q())
    reported = cases.filter(
        reporter_id__in=list(rows), reported_at__gte=start, reported_at__lt=end
    ).values_list("reporter_id", "pk")
    linked = PatrolCase.objects.filter(
        patrol__in=patrols.values("pk"), case__in=cases.values("pk")
    ).values_list("patrol__worker_id", "case_id")
    for worker_id, case_id in [*reported, *linked]:
        if worker_id in rows:
            rows[worker_id].found.add(case_id)
    handled = (
        _handled_on_site(territory, start, end)
        .filter(actor_id__in=list(rows))
        .values_list("actor_id", "case_id", "data")
    )
    handled = list(handled)
    # A step handled before its clock was kept with the entry is late if the
    # deadline sweeper had escalated the case from the same step before it.
    unknown = {case_id for _w, case_id, data in handled if "late" not in (data or {})}
    escalated = (
        set(
            TimelineEntry.objects.filter(
                case_id__in=unknown, action="overdue", from_state=State.ONSITE
            ).values_list("case_id", flat=True)
        )
        if unknown
        else set()
    )
    for worker_id, case_id, data in handled:
        row = rows[worker_id]
        row.handled.add(case_id)
        late = (data or {}).get("late", case_id in escalated)
        if not late:
            row.on_time.add(case_id)
