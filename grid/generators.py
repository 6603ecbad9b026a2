"""Cover a community with grid cells: a square lattice clipped to its boundary.

The lattice is laid in a local metric projection (azimuthal equidistant,
centred on the community) so cell areas are true to well under 1 %. Each
square is taken back to WGS-84 and clipped to the boundary there, so cells
follow the community's own edges exactly (clipping in the projection would
bend them by a few square metres). A clipped piece smaller than SLIVER of the
target area joins the neighbour it shares the longest border with, so no
micro-cells are left. Pieces are then numbered by their lattice position:
rows north→south, within a row west→east.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.contrib.gis.gdal import CoordTransform, SpatialReference
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from grid.geometry import local_metric_srs, polygonal
from grid.models import Community, GridCell

# Pieces under this share of the target area join a neighbour: a street office
# expects cells of comparable size, not strips along the edges.
SLIVER = 0.35
MAX_CELLS = 999


class GridGenerationError(ValueError):
    """The grid cannot be generated; the message says why."""


@dataclass
class Piece:
    row: int
    col: int
    shape: MultiPolygon  # WGS-84
    area: float  # m²


class Lattice:
    """Squares of a side in metres laid over a WGS-84 boundary."""

    def __init__(self, boundary: MultiPolygon):
        self.boundary = boundary
        metric = local_metric_srs(*boundary.centroid.coords)
        self.to_metric = CoordTransform(SpatialReference(4326), metric)
        self.to_wgs84 = CoordTransform(metric, SpatialReference(4326))

    def area(self, shape: MultiPolygon) -> float:
        return shape.transform(self.to_metric, clone=True).area

    def pieces(self, side: float) -> list[Piece]:
        projected = self.boundary.transform(self.to_metric, clone=True)
        minx, miny, maxx, maxy = projected.extent
        rows = max(math.ceil((maxy - miny) / side), 1)
        cols = max(math.ceil((maxx - minx) / side), 1)
        if rows * cols > MAX_CELLS * 20:
            # A long, thin or diagonal boundary: clipping this many squares is slow and
            # cannot end in few enough cells.
            raise GridGenerationError(_("The cell area is far too small for this community."))
        prepared = self.boundary.prepared
        pieces = []
        for row in range(rows):
            top = maxy - row * side
            for col in range(cols):
                left = minx + col * side
                square = Polygon.from_bbox((left, top - side, left + side, top))
                square.transform(self.to_wgs84)
                square.srid = 4326
                if not prepared.intersects(square):
                    continue
                shape = polygonal(self.boundary.intersection(square))
                if shape is not None:
                    pieces.append(Piece(row, col, shape, self.area(shape)))
        return pieces


def _merge_slivers(pieces: list[Piece], target: float) -> list[Piece]:
    """Fold pieces under SLIVER × target into the neighbour with the longest shared border.

    A small piece with no neighbour (an island of the boundary) stays a cell.
    """
    while len(pieces) > 1:
        merge = None
        for sliver in sorted((p for p in pieces if p.area < SLIVER * target), key=_area):
            # A ~1 cm halo makes the shared border robust to rounding along it; the
            # halo's overlap with a neighbour is proportional to the border's length.
            halo = sliver.shape.buffer(1e-7)
            borders = [
                (halo.intersection(p.shape).area, p)
                for p in pieces
                if p is not sliver and halo.intersects(p.shape)
            ]
            if borders:
                merge = sliver, max(borders, key=_length)[1]
                break
        if merge is None:
            return pieces
        sliver, neighbour = merge
        neighbour.shape = polygonal(neighbour.shape.union(sliver.shape))
        neighbour.area += sliver.area
        pieces = [p for p in pieces if p is not sliver]
    return pieces


def _area(piece: Piece) -> float:
    return piece.area


def _length(border: tuple[float, Piece]) -> float:
    return border[0]


def generate_grid(
    community: Community,
    *,
    cell_area_m2: float | None = None,
    households: int | None = None,
    households_per_cell: int | None = None,
    replace: bool = False,
) -> list[GridCell]:
    """Replace-or-refuse, then cover `community` with coded cells; returns them in code order."""
    lattice = Lattice(community.boundary)
    if households_per_cell is not None:
        if not households or households <= 0 or households_per_cell <= 0:
            raise GridGenerationError(
                _("Give the community's households and a positive number per cell.")
            )
        cell_area_m2 = lattice.area(community.boundary) / math.ceil(
            households / households_per_cell
        )
    if cell_area_m2 is None or cell_area_m2 <= 0:
        raise GridGenerationError(_("The cell area must be a positive number of square metres."))
    estimate = lattice.area(community.boundary) / cell_area_m2
    if estimate > MAX_CELLS * 1.5:
        # Refuse before clipping thousands of squares; near the limit the exact count decides.
        raise GridGenerationError(_too_many(round(estimate)))
    pieces = _merge_slivers(lattice.pieces(math.sqrt(cell_area_m2)), cell_area_m2)
    if not pieces:
        # Only an empty or degenerate (zero-area) boundary leaves nothing to cover.
        raise GridGenerationError(
            _("Community %(code)s has no area to cover.") % {"code": community.code}
        )
    if len(pieces) > MAX_CELLS:
        raise GridGenerationError(_too_many(len(pieces)))
    pieces.sort(key=lambda p: (p.row, p.col))
    shares = _households(pieces, households) if households else [0] * len(pieces)
    with transaction.atomic():
        existing = GridCell.objects.filter(community=community)
        if existing.exists():
            if not replace:
                raise GridGenerationError(
                    _("Community %(code)s already has cells; use --replace to regenerate them.")
                    % {"code": community.code}
                )
            try:
                existing.delete()
            except ProtectedError:
                raise GridGenerationError(
                    _("Cells of %(code)s are referenced by cases and cannot be replaced.")
                    % {"code": community.code}
                ) from None
        cells = [
            GridCell(
                code=f"{community.code}{n:03d}",
                name=f"{community.name}第{n}网格",
                community=community,
                boundary=piece.shape,
                households=share,
            )
            for n, (piece, share) in enumerate(zip(pieces, shares, strict=True), start=1)
        ]
        return GridCell.objects.bulk_create(cells)


def _too_many(n: int) -> str:
    return _("That makes %(n)d cells; a community has at most %(max)d.") % {
        "n": n,
        "max": MAX_CELLS,
    }


def _households(pieces: list[Piece], total: int) -> list[int]:
    """Split `total` across pieces by area, as integers that add up to it (largest remainder)."""
    area = sum(p.area for p in pieces)
    exact = [total * p.area / area for p in pieces]
    shares = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(pieces)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares
