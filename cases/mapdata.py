"""What the live map loads: boundaries, a snapshot of open cases with a cursor, stats.

Everything starts from the user's Territory. At city scale the snapshot is
aggregated on the server (open and overdue counts per cell); individual
markers are sent only when the viewport holds at most MAX_MARKERS cases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.gis.db.models import MultiPolygonField
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.contrib.gis.geos import Polygon
from django.db import connection
from django.db.models import Count, F, FloatField, Func, Q, QuerySet, Sum, Value
from django.utils import timezone

from cases.calendar import CHINA
from cases.metrics import UnitMetrics, combine, metrics
from cases.models import (
    OPEN_STATES,
    Case,
    DailyCount,
    DeadlineState,
    EventSequence,
    OpenCount,
    State,
)
from cases.services import visible_cases
from core.sharedstate import ACCESS, GenerationCache
from grid.models import Community, District, Street
from grid.territory import Territory

MAX_MARKERS = 3000
# Above this many cells in the territory, they are sent per viewport when zoomed
# in, not all at once: a district's 2,000 cells were 600 KiB.
MAX_CELLS = 600
# At most this many communities per viewport (a city's are sent per viewport).
MAX_COMMUNITIES = 300
# Boundary simplification for the map, in degrees (~5 m).
SIMPLIFY = 0.00005


@dataclass
class Filters:
    categories: list[str]
    states: list[str]
    urgencies: list[str]
    overdue_only: bool
    since: datetime | None
    until: datetime | None
    community_id: int | None

    @classmethod
    def from_query(cls, params) -> Filters:
        def day(name: str, end: bool = False) -> datetime | None:
            value = params.get(name)
            if not value:
                return None
            try:
                parsed = datetime.fromisoformat(value).replace(tzinfo=CHINA)
            except ValueError:
                return None
            return parsed + timedelta(days=1) if end else parsed

        community = params.get("community")
        return cls(
            categories=[c for c in params.getlist("category") if c],
            states=[s for s in params.getlist("state") if s in OPEN_STATES],
            urgencies=[u for u in params.getlist("urgency") if u],
            overdue_only=params.get("overdue") in ("1", "true", "on"),
            since=day("since"),
            until=day("until", end=True),
            # A primary key, so at most 18 digits: a longer one overflows the database's integer.
            community_id=int(community)
            if community and community.isdigit() and len(community) < 19
            else None,
        )

    @classmethod
    def none(cls) -> Filters:
        return cls([], [], [], overdue_only=False, since=None, until=None, community_id=None)

    def apply(self, qs):
        qs = qs.filter(state__in=self.states or OPEN_STATES)
        if self.categories:
            qs = qs.filter(
                Q(category__code__in=self.categories)
                | Q(category__parent__code__in=self.categories)
            )
        if self.urgencies:
            qs = qs.filter(urgency__in=self.urgencies)
        if self.overdue_only:
            qs = qs.filter(deadline_state=DeadlineState.RED)
        if self.since:
            qs = qs.filter(reported_at__gte=self.since)
        if self.until:
            qs = qs.filter(reported_at__lt=self.until)
        if self.community_id:
            qs = qs.filter(community_id=self.community_id)
        return qs


def last_seq() -> int:
    """The newest committed event's sequence number (0 before the first)."""
    row = EventSequence.objects.filter(pk=1).first()
    return row.last if row else 0


def _collection(qs, kind: str, extra=()) -> dict:
    """GeoJSON of areas, simplified by the database (ST_SimplifyPreserveTopology,
    6 decimals ≈ 0.1 m): no polygon is parsed in Python."""
    shape = AsGeoJSON(
        Func(
            "boundary",
            Value(SIMPLIFY),
            function="ST_SimplifyPreserveTopology",
            output_field=MultiPolygonField(srid=4326),
        ),
        precision=6,
    )
    features = [
        {
            "type": "Feature",
            "id": row["pk"],
            "geometry": json.loads(row["shape"]),
            "properties": {"kind": kind, **{k: v for k, v in row.items() if k not in SKIP}},
        }
        for row in qs.values("pk", "code", "name", *extra, shape=shape)
    ]
    return {"type": "FeatureCollection", "features": features}


SKIP = {"pk", "shape"}
# Simplified districts, streets and communities by kind and primary key: every map
# of the city draws the same few hundred shapes. Filled as maps ask for them, and
# kept while no unit, post or assignment changed (the "access" generation: any
# saved unit starts a new one, in every process).
_shapes: GenerationCache[str, dict[int, dict]] = GenerationCache(ACCESS, max_age=3600)


def _shapes_of(model, kind: str, pks, extra=()) -> dict:
    """A FeatureCollection of these units (in this order), simplified once per generation."""
    pks = list(pks)
    known = _shapes.get(kind, dict)
    missing = [pk for pk in pks if pk not in known]
    if missing:
        fresh = _collection(model.objects.filter(pk__in=missing), kind, extra)["features"]
        known.update((f["id"], f) for f in fresh)
    return {"type": "FeatureCollection", "features": [known[pk] for pk in pks if pk in known]}


def by_streets(territory: Territory) -> bool:
    """A city's or a district's map starts with its streets: their hundreds of
    communities come per viewport when zoomed in, and the tooltips' figures
    are per street."""
    return territory.everything or bool(territory.district_ids)


def boundaries(user) -> dict:
    """GeoJSON of the territory's districts, streets and communities, and its cells.

    A large territory sends less at once: a city's or a district's communities
    (by_streets) and more than MAX_CELLS cells are null, and the map asks
    communities_in_view() / cells_in_view() when zoomed in. Districts are those
    the territory holds whole (the city for a superuser).
    """
    territory = Territory.for_user(user)
    streets = list(territory.streets().values_list("pk", flat=True))
    cells = territory.cells()
    district_pks = (
        District.objects.values_list("pk", flat=True)
        if territory.everything
        else sorted(territory.district_ids)
    )
    return {
        "districts": _shapes_of(District, "district", district_pks),
        "streets": _shapes_of(Street, "street", streets),
        "communities": None
        if by_streets(territory)
        else _shapes_of(
            Community,
            "community",
            territory.communities().values_list("pk", flat=True),
            ("street_id",),
        ),
        "cells": _collection(cells, "cell", ("community_id",))
        if cells.count() <= MAX_CELLS
        else None,
    }


def cells_in_view(user, bbox: tuple[float, float, float, float]) -> dict:
    """The territory's cells inside a viewport, at most MAX_CELLS of them."""
    cells = Territory.for_user(user).cells().filter(boundary__intersects=Polygon.from_bbox(bbox))
    return _collection(cells.order_by("code")[:MAX_CELLS], "cell", ("community_id",))


def communities_in_view(user, bbox: tuple[float, float, float, float]) -> dict:
    """The territory's communities inside a viewport, at most MAX_COMMUNITIES of them."""
    communities = (
        Territory.for_user(user)
        .communities()
        .filter(boundary__intersects=Polygon.from_bbox(bbox))
        .order_by("code")
        .values_list("pk", flat=True)[:MAX_COMMUNITIES]
    )
    return _shapes_of(Community, "community", communities, ("street_id",))


def marker(case: Case) -> dict:
    return {
        "number": case.number,
        "lon": case.location.x,
        "lat": case.location.y,
        "state": case.state,
        "category": case.category.code,
        "group": case.category.code[:2],
        "urgency": case.urgency,
        "major_hazard": case.major_hazard,
        "deadline": case.deadline_state,
        "supervised": case.supervised,
        "cell": case.cell_id,
        "community": case.community_id,
    }


def snapshot(
    user,
    filters: Filters,
    bbox: tuple[float, float, float, float] | None,
    *,
    with_cells: bool = True,
) -> dict:
    """Open cases for the map: a cursor first, then counts and markers or a total.

    `cells` counts the cells (for a city or a district only those in view; none
    when the map draws no cells, with_cells=False); `streets` counts each
    street, for a city drawn by streets. Unfiltered counts come from OpenCount, kept by the
    database as cases change; filtered ones are counted. `in_view` is the number
    of cases in view, or MAX_MARKERS + 1 when there are more: markers are sent
    only when there are at most MAX_MARKERS, so counting further is wasted.

    The cursor is read before the data, so an event committed in between is
    both in the data and replayed; the client ignores repeats by seq.
    """
    cursor = last_seq()
    territory = Territory.for_user(user)
    cases = filters.apply(visible_cases(user, territory))
    counter = _Counts(territory, filters, cases)
    cells = {}
    if with_cells:
        # A city's or district's map draws only the cells in view; a street's, all.
        within = _cells_in(territory, bbox) if bbox and by_streets(territory) else None
        cells = counter.by("cell_id", within)
    streets = counter.by("street_id")
    in_view = cases
    if bbox is not None:
        in_view = cases.filter(**{IN_BOX: Polygon.from_bbox(bbox)})
    markers = None
    if sum(s["open"] for s in streets.values()) <= MAX_MARKERS:
        # Few enough in the whole territory: no need to count those in view first.
        markers = _markers(in_view)
        count = len(markers)
    else:
        count = in_view.order_by()[: MAX_MARKERS + 1].count()
        if count <= MAX_MARKERS:
            markers = _markers(in_view)
    return {
        "last_seq": cursor,
        "cells": cells,
        "streets": streets,
        "in_view": count,
        "markers": markers,
    }


# A point is in a rectangle when its bounding box overlaps it. On PostGIS the
# overlap (&&) has the planner's real selectivity, where ST_Within's estimate of
# 0.1 % made it AND a bitmap of every case in a district's view (230 ms against
# 6 ms); SpatiaLite's MbrOverlaps means something else, so it keeps within.
IN_BOX = "location__bboverlaps" if connection.vendor == "postgresql" else "location__within"


def _cells_in(territory: Territory, bbox) -> QuerySet:
    return territory.cells().filter(boundary__intersects=Polygon.from_bbox(bbox)).values("pk")


class _Counts:
    """Open and overdue cases per unit: from OpenCount when it can say, else counted.

    OpenCount knows place and deadline colour only: a filter by category, state,
    urgency or date, and a department's cases outside its territory, are counted.
    """

    def __init__(self, territory: Territory, filters: Filters, cases: QuerySet) -> None:
        self.cases = cases
        self.rows = None
        plain = not (
            filters.categories or filters.states or filters.urgencies
            or filters.since or filters.until
        )  # fmt: skip
        if plain and not territory.department_ids:
            rows = OpenCount.objects.filter(territory.q())
            if filters.overdue_only:
                rows = rows.filter(deadline_state=DeadlineState.RED)
            if filters.community_id:
                rows = rows.filter(community_id=filters.community_id)
            self.rows = rows

    def by(self, unit: str, within: QuerySet | None = None) -> dict[int, dict[str, int]]:
        if self.rows is not None:
            rows = self.rows.filter(**{f"{unit}__gt": 0})
            if within is not None:
                rows = rows.filter(**{f"{unit}__in": within})
            grouped = rows.values(unit).annotate(
                n=Sum("open"), red=Sum("open", filter=Q(deadline_state=DeadlineState.RED))
            )
            grouped = grouped.filter(n__gt=0)
        else:
            rows = self.cases.filter(**{f"{unit}__isnull": False})
            if within is not None:
                rows = rows.filter(**{f"{unit}__in": within})
            grouped = rows.values(unit).annotate(
                n=Count("pk"), red=Count("pk", filter=Q(deadline_state=DeadlineState.RED))
            )
        return {row[unit]: {"open": row["n"], "overdue": row["red"] or 0} for row in grouped}

    def total(self) -> dict[str, int]:
        if self.rows is not None:
            row = self.rows.aggregate(
                n=Sum("open"), red=Sum("open", filter=Q(deadline_state=DeadlineState.RED))
            )
        else:
            row = self.cases.aggregate(
                n=Count("pk"), red=Count("pk", filter=Q(deadline_state=DeadlineState.RED))
            )
        return {"open": row["n"] or 0, "overdue": row["red"] or 0}


def _markers(cases: QuerySet) -> list[dict]:
    """Markers read as plain values: no model instances, no geometry parsed in Python
    (a busy street has 2,500 open cases in view)."""
    rows = cases.values_list(
        "number",
        Func("location", function="ST_X", output_field=FloatField()),
        Func("location", function="ST_Y", output_field=FloatField()),
        "state",
        "category__code",
        "urgency",
        "major_hazard",
        "deadline_state",
        "supervised",
        "cell_id",
        "community_id",
    )
    return [
        {
            "number": number,
            "lon": lon,
            "lat": lat,
            "state": state,
            "category": code,
            "group": code[:2],
            "urgency": urgency,
            "major_hazard": hazard,
            "deadline": deadline,
            "supervised": supervised,
            "cell": cell,
            "community": community,
        }
        for (
            number,
            lon,
            lat,
            state,
            code,
            urgency,
            hazard,
            deadline,
            supervised,
            cell,
            community,
        ) in rows
    ]


def stats(user, *, start: datetime | None = None, end: datetime | None = None) -> dict:
    """The stats strip: open, new today, overdue, closed today, and 三率 for the period.

    Per unit for the tooltips: each community's figures, or each street's for a
    city's or a district's map (by_streets: `communities` is then empty).
    """
    now = timezone.now()
    today = now.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
    start = start or today.replace(day=1)
    end = end or now + timedelta(seconds=1)
    territory = Territory.for_user(user)
    cases = visible_cases(user, territory)
    # Narrow queries: today's new and closed cases on two indexes (reported_at,
    # closed_at), the open counts from OpenCount and the period's 三率 from
    # DailyCount, rather than passes over every case the territory had.
    counts = _Counts(territory, Filters.none(), cases).total()
    new_today = Q(reported_at__gte=today)
    closed_today = Q(closed_at__gte=today, state=State.CLOSED)
    counts |= cases.filter(new_today | closed_today).aggregate(
        new_today=Count("pk", filter=new_today), closed_today=Count("pk", filter=closed_today)
    )
    many = by_streets(territory)
    group = "street" if many else "community"
    by_unit = _rolled_up(territory, cases, start, end, now, group)
    if by_unit is None:
        by_unit = metrics(cases, start=start, end=end, group=group, counts_only=True)
    total = combine(by_unit)
    units = {
        str(pk): rates(u) | {"open": u.open, "overdue": u.overdue}
        for pk, u in by_unit.items()
        if pk is not None
    }
    return {
        **counts,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "rates": rates(total),
        "communities": {} if many else units,
        "streets": units if many else {},
    }


ROLLED_UP = [
    "triaged",
    "triaged_in_time",
    "accepted",
    "resolved",
    "rated",
    "satisfied",
    "open",
    "overdue",
]


def _rolled_up(territory, cases, start, end, now, group: str) -> dict | None:
    """cases.metrics' counts for the stats strip from DailyCount, or None when it
    cannot say: a period that does not start at a local midnight or ends before
    now, a territory of single cells, a department's cases outside its territory.

    A month's 180,000 city cases read by metrics took 281 ms; a month of daily
    rows is at most a row per community and day. The untriaged cases past their
    response deadline are counted from the cases: they fall due with the clock.
    """
    local = start.astimezone(CHINA)
    if (
        territory.department_ids
        or territory.cell_ids
        or local.time() != datetime.min.time()
        or end < now
    ):
        return None
    key = "street_id" if group == "street" else "community_id"
    rows = DailyCount.objects.filter(territory.q(), day__gte=local.date())
    units: dict = {}
    for row in rows.values(key).annotate(**{c: Sum(c) for c in ROLLED_UP}):
        pk = row.pop(key) or None
        units[pk] = UnitMetrics(unit_id=pk, **{c: row[c] or 0 for c in ROLLED_UP})
    late = cases.filter(triaged_at__isnull=True, triage_due__lt=now, reported_at__gte=start)
    for row in late.values(unit=F(key)).annotate(n=Count("pk")):
        units.setdefault(row["unit"], UnitMetrics(unit_id=row["unit"])).response_due = row["n"]
    for unit in units.values():
        unit.response_due += unit.triaged
    return units


def rates(unit) -> dict:
    return {
        "response": unit.response_rate,
        "resolution": unit.resolution_rate,
        "satisfaction": unit.satisfaction_rate,
    }
