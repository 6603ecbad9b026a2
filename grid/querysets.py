"""Spatial and temporal queries on territory, kept on the QuerySet so every caller shares them."""

from __future__ import annotations

import math
from datetime import datetime

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point, Polygon
from django.db import models
from django.utils import timezone

METRES_PER_DEGREE_LAT = 111_320.0


def degrees_for_metres(metres: float, latitude: float) -> float:
    """A radius in degrees that covers `metres` in every direction at `latitude`.

    Longitude degrees shrink towards the poles, so the longitude scale is the
    binding one; the result is a superset prefilter for an index scan, which
    the exact geodesic distance then narrows.
    """
    cos_lat = max(math.cos(math.radians(latitude)), 0.01)
    return metres / (METRES_PER_DEGREE_LAT * cos_lat)


def square_around(point: Point, metres: float) -> Polygon:
    """A lon/lat square that holds every point within `metres` of `point`.

    1 % wider than the radius: the databases' sphere distances take a degree
    of latitude as ~111.2 km, a little less than METRES_PER_DEGREE_LAT.
    """
    padded = metres * 1.01
    dy = padded / METRES_PER_DEGREE_LAT
    dx = degrees_for_metres(padded, point.y)
    return Polygon.from_bbox((point.x - dx, point.y - dy, point.x + dx, point.y + dy))


def within_metres(field: str, point: Point, metres: float) -> models.Q:
    """Rows whose geometry `field` lies within about `metres` of `point` (a prefilter).

    An intersection with a square means the same on PostGIS and SpatiaLite and
    uses PostGIS's index, where `dwithin` does not: on SpatiaLite a point
    field's `dwithin` takes metres, on PostGIS geometry columns degrees. Narrow
    the result with the annotated geodesic Distance, which is in metres on both.
    """
    return models.Q(**{f"{field}__intersects": square_around(point, metres)})


class TenureQuerySet(models.QuerySet):
    """Rows valid from `started` until `ended` (open-ended while null)."""

    def current(self, at: datetime | None = None):
        at = at or timezone.now()
        return self.filter(models.Q(ended__isnull=True) | models.Q(ended__gt=at), started__lte=at)


class AreaQuerySet(models.QuerySet):
    def covering(self, point: Point):
        """Areas whose boundary contains the point or has it on its edge, lowest code first."""
        return self.filter(boundary__intersects=point).order_by("code")

    def near(self, point: Point, metres: float):
        """Areas within `metres` of the point, nearest first (ties by code).

        The square prefilter uses the spatial index; the annotated geodesic
        distance is exact.
        """
        return (
            self.filter(within_metres("boundary", point, metres))
            .annotate(distance=Distance("boundary", point))
            .filter(distance__lte=metres)
            .order_by("distance", "code")
        )


class GridCellQuerySet(AreaQuerySet):
    def containing(self, point: Point):
        """Cells that contain the point, borders included; the lowest code first.

        A point on a border shared by two cells belongs to both; callers that
        need one cell take the first, which makes the choice deterministic.
        Use grid.locate.locate() for GPS tolerance and the 属地兜底 fallback.
        """
        return self.covering(point)
