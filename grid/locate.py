"""Which grid cell, community and street a reported point belongs to (属地)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models.expressions import Col
from django.utils.translation import gettext as _

from grid.models import Community, GridCell, Street
from project.sharedstate import ACCESS, GenerationCache


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


# Cells with their community and street, by id. The spatial query then only
# returns an id: building three model instances per lookup cost more than the
# lookup itself (docs/benchmarks.md). Shared between requests: read only.
_cells: GenerationCache[int, GridCell] = GenerationCache(ACCESS)

# What a located cell carries: every column of the cell, its community and its
# street but their boundaries (matched in the database, never read back).
_CHAIN = (GridCell, Community, Street)


def _read_fields(model) -> list:
    return [f for f in model._meta.concrete_fields if f.name != "boundary"]


@dataclass(frozen=True)
class _Reading:
    """How one model's columns in the row become an instance."""

    model: type
    names: list[str]
    # Each column with the converters the ORM would apply to it (dates and
    # booleans on SQLite, say): none for today's fields, right for tomorrow's.
    columns: list[tuple[Col, list]]

    def instance(self, values: tuple):
        converted = []
        for (col, converters), value in zip(self.columns, values, strict=True):
            for convert in converters:
                value = convert(value, col, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.names, converted)


@functools.cache
def _cell_query() -> tuple[str, tuple[_Reading, ...]]:
    """One SELECT of a cell's, its community's and its street's columns, by cell id.

    Written out once from the models: the ORM's select_related with defer cost
    five times the CPU of the query itself on every cell's first lookup
    (docs/benchmarks.md). Plain joins, so SpatiaLite runs it too.
    """
    quote = connection.ops.quote_name
    readings, selected = [], []
    for model in _CHAIN:
        fields = _read_fields(model)
        cols = [f.get_col(model._meta.db_table) for f in fields]
        converters = [
            connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            for col in cols
        ]
        names = [f.attname for f in fields]
        readings.append(_Reading(model, names, list(zip(cols, converters, strict=True))))
        table = quote(model._meta.db_table)
        selected += [f"{table}.{quote(f.column)}" for f in fields]
    columns = ", ".join(selected)
    cell, community, street = (quote(model._meta.db_table) for model in _CHAIN)

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    sql = (
        f"SELECT {columns} FROM {cell}"
        f" JOIN {community} ON {community}.{column(Community, 'id')}"
        f" = {cell}.{column(GridCell, 'community')}"
        f" JOIN {street} ON {street}.{column(Street, 'id')}"
        f" = {community}.{column(Community, 'street')}"
        f" WHERE {cell}.{column(GridCell, 'id')} = %s"
    )
    return sql, tuple(readings)


def _load_cell(pk: int) -> GridCell:
    sql, readings = _cell_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        raise GridCell.DoesNotExist(f"No cell {pk}.")
    instances = []
    for reading in readings:
        width = len(reading.names)
        instances.append(reading.instance(row[:width]))
        row = row[width:]
    cell, community, street = instances
    community.street = street
    cell.community = community
    return cell


def as_point(value: Point | tuple[float, float]) -> Point:
    point = value if isinstance(value, Point) else Point(value[0], value[1], srid=4326)
    if point.srid is None:
        point.srid = 4326
    elif point.srid != 4326:
        point = point.transform(4326, clone=True)
    return point


def _cell_containing(point: Point) -> int | None:
    """The id of the lowest-coded cell containing the point (borders included)."""
    if connection.vendor == "postgresql":
        # The one statement every report and lookup runs: written out, it skips
        # the ORM's query building, two thirds of its time (docs/benchmarks.md).
        # Same predicate and order as GridCellQuerySet.containing().
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {GridCell._meta.db_table} WHERE ST_Intersects(boundary,"
                " ST_SetSRID(ST_MakePoint(%s, %s), 4326)) ORDER BY code LIMIT 1",
                [point.x, point.y],
            )
            row = cursor.fetchone()
        return row[0] if row else None
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
