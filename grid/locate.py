"""Which grid cell, community and street a reported point belongs to (属地)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _

from grid.models import Community, GridCell, Street


class OutsideTerritory(ValueError):
    """The point lies outside every street this installation knows."""


@dataclass(frozen=True)
class Location:
    street: Street
    community: Community | None
    cell: GridCell | None
    # How the point was resolved: "cell" (inside a cell), "near_cell" (within
    # the GPS tolerance of one), "community" or "street" (属地兜底).
    method: str


UNREAD_BOUNDARIES = ("boundary", "community__boundary", "community__street__boundary")


def as_point(value: Point | tuple[float, float]) -> Point:
    point = value if isinstance(value, Point) else Point(value[0], value[1], srid=4326)
    if point.srid is None:
        point.srid = 4326
    elif point.srid != 4326:
        point = point.transform(4326, clone=True)
    return point


def locate(value: Point | tuple[float, float], tolerance_m: float | None = None) -> Location:
    """Resolve a WGS-84 point (x=longitude, y=latitude) to its territory.

    Order: a cell containing it (lowest code on a shared border); the nearest
    cell within the tolerance; the community containing it; the street
    containing it. Raises OutsideTerritory when none applies.
    """
    point = as_point(value)
    if tolerance_m is None:
        tolerance_m = settings.GRID_LOCATE_TOLERANCE_M
    # Boundaries are matched in the database and never read back: parsing three
    # polygons per lookup cost more than the lookup (docs/benchmarks.md).
    cells = GridCell.objects.select_related("community__street").defer(*UNREAD_BOUNDARIES)
    cell = cells.containing(point).first()
    method = "cell"
    if cell is None and tolerance_m > 0:
        cell = cells.near(point, tolerance_m).first()
        method = "near_cell"
    if cell is not None:
        return Location(cell.community.street, cell.community, cell, method)
    community = (
        Community.objects.select_related("street")
        .defer("boundary", "street__boundary")
        .covering(point)
        .first()
    )
    if community is not None:
        return Location(community.street, community, None, "community")
    street = Street.objects.defer("boundary").covering(point).first()
    if street is not None:
        return Location(street, None, None, "street")
    raise OutsideTerritory(
        _("The point (%(lon).6f, %(lat).6f) lies outside the territory.")
        % {"lon": point.x, "lat": point.y}
    )
