"""What the live map loads: boundaries, a snapshot of open cases with a cursor, stats.

Everything starts from the user's Territory. At city scale the snapshot is
aggregated on the server (open and overdue counts per cell); individual
markers are sent only when the viewport holds at most MAX_MARKERS cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.gis.geos import Polygon
from django.db.models import Count, Q
from django.utils import timezone

from cases.calendar import CHINA
from cases.metrics import combine, metrics
from cases.models import OPEN_STATES, Case, DeadlineState, EventSequence, State
from cases.services import visible_cases
from grid.territory import Territory

MAX_MARKERS = 3000
# Above this many cells in the territory, cells are sent per viewport, not all at once.
MAX_CELLS = 3000
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


def _rounded(coords):
    """Coordinates to 6 decimals (~0.1 m): halves the JSON without visible change."""
    if isinstance(coords[0], float | int):
        return [round(coords[0], 6), round(coords[1], 6)]
    return [_rounded(c) for c in coords]


def _collection(qs, kind: str, extra=()) -> dict:
    features = []
    for area in qs.only("pk", "code", "name", "boundary", *extra):
        geometry = area.boundary.simplify(SIMPLIFY, preserve_topology=True)
        features.append(
            {
                "type": "Feature",
                "id": area.pk,
                "geometry": {"type": geometry.geom_type, "coordinates": _rounded(geometry.coords)},
                "properties": {
                    "kind": kind,
                    "code": area.code,
                    "name": area.name,
                    **{name: getattr(area, name) for name in extra},
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def boundaries(user) -> dict:
    """GeoJSON of the territory's streets and communities, and its cells when there are
    at most MAX_CELLS of them; otherwise `cells` is null and the map asks cells_in_view()."""
    territory = Territory.for_user(user)
    cells = territory.cells()
    return {
        "streets": _collection(territory.streets(), "street"),
        "communities": _collection(territory.communities(), "community", ("street_id",)),
        "cells": _collection(cells, "cell", ("community_id",))
        if cells.count() <= MAX_CELLS
        else None,
    }


def cells_in_view(user, bbox: tuple[float, float, float, float]) -> dict:
    """The territory's cells inside a viewport, at most MAX_CELLS of them."""
    cells = Territory.for_user(user).cells().filter(boundary__intersects=Polygon.from_bbox(bbox))
    return _collection(cells.order_by("code")[:MAX_CELLS], "cell", ("community_id",))


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


def snapshot(user, filters: Filters, bbox: tuple[float, float, float, float] | None) -> dict:
    """Open cases for the map: a cursor first, then per-cell counts and markers or a total.

    The cursor is read before the data, so an event committed in between is
    both in the data and replayed; the client ignores repeats by seq.
    """
    cursor = last_seq()
    cases = filters.apply(visible_cases(user))
    cells = {
        row["cell_id"]: {"open": row["open"], "overdue": row["overdue"]}
        for row in cases.filter(cell__isnull=False)
        .values("cell_id")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(deadline_state=DeadlineState.RED)))
    }
    in_view = cases
    if bbox is not None:
        in_view = cases.filter(location__within=Polygon.from_bbox(bbox))
    count = in_view.count()
    markers = None
    if count <= MAX_MARKERS:
        markers = [
            marker(c)
            for c in in_view.select_related("category").only(
                "number",
                "location",
                "state",
                "category__code",
                "urgency",
                "major_hazard",
                "deadline_state",
                "supervised",
                "cell_id",
                "community_id",
            )
        ]
    return {"last_seq": cursor, "cells": cells, "in_view": count, "markers": markers}


def stats(user, *, start: datetime | None = None, end: datetime | None = None) -> dict:
    """The stats strip: open, new today, overdue, closed today, and 三率 for the period."""
    now = timezone.now()
    today = now.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
    start = start or today.replace(day=1)
    end = end or now + timedelta(seconds=1)
    cases = visible_cases(user)
    # Separate narrow queries, each on an index (state, reported_at, closed_at),
    # rather than one pass over every case the territory ever had.
    counts = cases.filter(state__in=OPEN_STATES).aggregate(
        open=Count("pk"), overdue=Count("pk", filter=Q(deadline_state=DeadlineState.RED))
    )
    counts["new_today"] = cases.filter(reported_at__gte=today).count()
    counts["closed_today"] = cases.filter(closed_at__gte=today, state=State.CLOSED).count()
    by_community = metrics(cases, start=start, end=end, group="community", counts_only=True)
    total = combine(by_community)
    return {
        **counts,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "rates": rates(total),
        "communities": {
            str(pk): rates(u) | {"open": u.open, "overdue": u.overdue}
            for pk, u in by_community.items()
            if pk is not None
        },
    }


def rates(unit) -> dict:
    return {
        "response": unit.response_rate,
        "resolution": unit.resolution_rate,
        "satisfaction": unit.satisfaction_rate,
    }
