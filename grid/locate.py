"""Which grid cell, community and street a reported point belongs to (属地)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _

from core.sharedstate import ACCESS, GenerationCache
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


# Cells with their community and street, by id: a city has tens of thousands
# and reports keep coming from the same ones. Shared between requests: read only.
_cells: GenerationCache[int, GridCell] = GenerationCache(ACCESS)


def _load_cell(pk: int) -> GridCell:
    """A cell with its community and street, without their boundaries (never read back)."""
    return (
        GridCell.objects.select_related("community__street")
        .defer("boundary", "community__boundary", "community__street__boundary")
        .get(pk=pk)
    )


def as_point(value: Point | tuple[float, float]) -> Point:
    point = value if isinstance(value, Point) else Point(value[0], value[1], srid=4326)
    if point.srid is None:
        point.srid = 4326
    elif point.srid != 4326:
        point = point.transform(4326, clone=True)
    return point


def _cell_containing(point: Point) -> int | None:
    """The id of the lowest-coded cell containing the point (borders included)."""
    return GridCell.objects.values_list("pk", flat=True).containing(point).first()


def locate(value: Point | tuple[float, float], tolerance_m: float | None = None) -> Location:
    """Resolve a WGS-84 point (x=longitude, y=latitude) to its territory.

    Order: a cell containing it (lowest code on a shared border); the nearest
    cell within the tolerance; the community containing it; the street
    containing it. Raises OutsideTerritory when none applies.
    """
    point = as_point(value)
    if tolerance_m is None:
        tolerance_m = settings.GRID_LOCATE_TOLERANCE_M
    cell_id = _cell_containing(point)
    method = "cell"
    if cell_id is None and tolerance_m > 0:
        cell_id = GridCell.objects.values_list("pk", flat=True).near(point, tolerance_m).first()
        method = "near_cell"
    if cell_id is not None:
        cell = _cells.get(cell_id, lambda: _load_cell(cell_id))
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
