"""Imported boundaries against the territory around them: what they would break, and
making room for them when they replace the old boundaries (--replace).

Replacing: the imported units win. Each sibling they overlap loses the
overlapped part, and so do that sibling's cells; an imported community's own
cells are clipped to its new boundary; an imported cell clips the cells it
overlaps. A cell left with no area is deleted (refused when cases or history
still refer to it). Then `grid.signals.boundaries_changed` tells the apps
built on the territory, in the same transaction, so open cases are
re-located before anything commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.gis.geos import MultiPolygon
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from grid.geometry import polygonal
from grid.gridcheck import (
    TOLERANCE_M2,
    Problem,
    area_m2,
    cell_overlaps,
    gaps_between,
    outside_parent,
    overlaps_with_siblings,
    siblings_of,
    srid_of,
)
from grid.models import Community, District, GridCell, Street
from grid.signals import boundaries_changed


class ReplacementRefused(ValueError):
    """Making room would destroy something that must stay; the message says what."""


@dataclass
class Replacement:
    clipped: list[str] = field(default_factory=list)  # codes of neighbours and cells clipped
    deleted: list[str] = field(default_factory=list)  # cells left with no area
    relocated: list = field(default_factory=list)  # what the apps moved (open cases)


def boundary_problems(model, imported: list) -> list[Problem]:
    """What the imported units break: overlaps with siblings, parts outside the parent,
    new gaps between siblings, cells left outside a community, overlapping cells."""
    codes = {u.code for u in imported}
    problems: list[Problem] = []
    for unit in sorted(imported, key=lambda u: u.code):
        # Pairs within the file once; pairs with the territory around it always.
        later = {u.code for u in imported if u.code < unit.code}
        if model is not GridCell:  # cells: _overlapping_cells, any community's
            problems += overlaps_with_siblings(unit, skip=later)
        if model is not District:
            problems += outside_parent(unit)
        if model is Community:
            problems += _cells_outside(unit)
    if model is GridCell:
        problems += _overlapping_cells(imported)
    if model in (Street, Community):
        for parent, children in _by_parent(imported).items():
            near = MultiPolygon([p for c in children for p in c.boundary], srid=4326)
            siblings = list(type(children[0]).objects.filter(**{_parent_attr(model): parent}))
            problems += gaps_between(parent, siblings, near=near)
    return [p for p in problems if codes & set(p.codes) or p.kind == "gap"]


def _cells_outside(community: Community) -> list[Problem]:
    srid = srid_of(community.boundary)
    problems = []
    for cell in community.cells.exclude(boundary__within=community.boundary):
        area = area_m2(cell.boundary.difference(community.boundary), srid)
        if area > TOLERANCE_M2:
            problems.append(
                Problem(
                    "outside",
                    (cell.code, community.code),
                    area,
                    _("Cell %(cell)s lies %(area).1f m² outside community %(community)s.")
                    % {"cell": cell.code, "community": community.code, "area": area},
                )
            )
    return problems


def _overlapping_cells(imported: list[GridCell]) -> list[Problem]:
    """Imported cells over any other cell, the file's own included: one indexed query
    per cell, so a district's 5,000 cells are not compared pairwise."""
    seen: set = set()
    problems = []
    for cell in imported:
        others = GridCell.objects.exclude(pk=cell.pk).filter(boundary__intersects=cell.boundary)
        problems += cell_overlaps([cell], list(others), seen)
    return problems


def _cells_near(cells: list[GridCell]) -> list[GridCell]:
    union = MultiPolygon([p for c in cells for p in c.boundary], srid=4326)
    return list(
        GridCell.objects.exclude(pk__in=[c.pk for c in cells]).filter(
            boundary__intersects=union.envelope
        )
    )


def _parent_attr(model) -> str:
    return {Street: "district", Community: "street", GridCell: "community"}[model]


def _by_parent(units: list) -> dict:
    groups: dict = {}
    for unit in units:
        groups.setdefault(unit.parent, []).append(unit)
    return groups


def apply_replacement(
    model, imported: list, previous: dict[str, MultiPolygon], *, replace: bool
) -> Replacement:
    """Make room for the imported units (only with `replace`), then tell the apps where
    boundaries changed: the imported units' old and new boundaries and what was clipped."""
    result = Replacement()
    changed = [previous[u.code] for u in imported if u.code in previous]
    changed += [u.boundary for u in imported if u.code in previous]
    gone: list[GridCell] = []
    if replace:
        changed += _make_room(model, imported, result, gone)
    if changed:
        area = MultiPolygon([p for g in changed for p in g], srid=4326)
        answers = boundaries_changed.send(
            sender=model, area=area, gone_cell_ids=frozenset(c.pk for c in gone)
        )
        for _receiver, moved in answers:
            result.relocated += list(moved or [])
    for cell in gone:
        try:
            cell.delete()
        except ProtectedError:
            raise ReplacementRefused(
                _(
                    "Cell %(code)s would be left with no area, but cases or their history "
                    "refer to it; change its boundary by hand first."
                )
                % {"code": cell.code}
            ) from None
        result.deleted.append(cell.code)
    return result


def _make_room(model, imported: list, result: Replacement, gone: list) -> list[MultiPolygon]:
    """Clip what the imported units overlap; returns the old boundaries of what changed."""
    changed = []
    codes = {u.code for u in imported}
    if model is GridCell:
        for cell in imported:
            for other in _cells_near([cell]):
                if other.code not in codes:
                    changed += _clip(other, cell.boundary, result, gone)
        return changed
    for unit in imported:
        for sibling in siblings_of(unit):
            if sibling.code in codes:
                continue
            old = sibling.boundary
            changed += _clip(sibling, unit.boundary, result, gone)
            if model is Community and sibling.boundary is not old:
                for cell in sibling.cells.filter(boundary__intersects=unit.boundary):
                    changed += _clip(cell, unit.boundary, result, gone)
        if model is Community:
            for cell in unit.cells.exclude(boundary__within=unit.boundary):
                outside = cell.boundary.difference(unit.boundary)
                changed += _clip(cell, outside, result, gone)
    return changed


def _clip(unit, cutter, result: Replacement, gone: list) -> list[MultiPolygon]:
    old = unit.boundary
    srid = srid_of(old)
    if area_m2(old.intersection(cutter), srid) <= TOLERANCE_M2:
        return []
    rest = polygonal(old.difference(cutter))
    if rest is None or area_m2(rest, srid) <= TOLERANCE_M2:
        if not isinstance(unit, GridCell):
            raise ReplacementRefused(
                _("%(level)s %(code)s would be left with no area.")
                % {"level": str(type(unit)._meta.verbose_name).capitalize(), "code": unit.code}
            )
        gone.append(unit)
        return [old]
    rest.srid = 4326
    unit.boundary = rest
    unit.save(update_fields=["boundary"])
    result.clipped.append(unit.code)
    return [old]
