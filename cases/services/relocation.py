"""Open cases follow redrawn boundaries: when an import changes where cells, communities
or streets lie, every open case whose point now belongs elsewhere moves there.

Called through grid.signals.boundaries_changed, inside the import's
transaction: the import and the moves commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Collection

from django.contrib.gis.geos import MultiPolygon, Point
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import OPEN_STATES, Case
from cases.services.ownership import owners, tell_moved
from cases.services.timeline import record
from grid.locate import Location, OutsideTerritory, locate
from grid.models import Community


def relocate_open_cases(
    *, area: MultiPolygon, gone_cell_ids: Collection[int] = frozenset()
) -> list[Case]:
    """Move every open case in `area` whose cell, community or street is no longer the one
    its point falls in; one timeline entry each. `gone_cell_ids`: cells being deleted."""
    moved = []
    now = timezone.now()
    cases = (
        Case.objects.select_for_update(of=("self",))
        .filter(state__in=OPEN_STATES, location__intersects=area)
        .select_related("street", "community", "cell")
        .order_by("pk")
    )
    for case in cases:
        where = _locate(case.location, gone_cell_ids)
        if where is None or (where.street.pk, _pk(where.community), _pk(where.cell)) == (
            case.street_id,
            case.community_id,
            case.cell_id,
        ):
            continue
        _move(case, where, now)
        moved.append(case)
    if moved:
        from cases.signals import release_after_commit

        # A worker of the old cell may hold the step: it goes back to its new owners.
        release_after_commit()
    return moved


def _pk(unit) -> int | None:
    return unit.pk if unit is not None else None


def _locate(point: Point, gone_cell_ids: Collection[int]) -> Location | None:
    try:
        where = locate(point)
    except OutsideTerritory:
        return None  # outside every street now: it stays where it was, for a person to move
    if where.cell is not None and where.cell.pk in gone_cell_ids:
        community = Community.objects.select_related("street").covering(point).first()
        if community is not None:
            return Location(community.street, community, None, "community")
        return Location(where.street, None, None, "street")
    return where


def _code(unit) -> str | None:
    return unit.code if unit is not None else None


def _move(case: Case, where: Location, now) -> None:
    before = {
        "street": case.street.code,
        "community": _code(case.community),
        "cell": _code(case.cell),
    }
    after = {
        "street": where.street.code,
        "community": _code(where.community),
        "cell": _code(where.cell),
    }
    note = _("The boundaries were redrawn: the case moved from %(old)s to %(new)s.") % {
        "old": before["cell"] or before["community"] or before["street"],
        "new": after["cell"] or after["community"] or after["street"],
    }
    owned_by = set(owners(case).values_list("pk", flat=True))
    if where.street.pk != case.street_id:
        # First under the old street: its maps take the case off.
        record(case, "transferred_out", from_state=case.state, note=note, at=now)
    case.street, case.community, case.cell = where.street, where.community, where.cell
    case.save(update_fields=["street", "community", "cell"])
    record(
        case,
        "relocated",
        from_state=case.state,
        note=note,
        data={"from": before, "to": after, "locate": where.method},
        at=now,
    )
    # Owners who had it before already know it; the new ones are told.
    tell_moved(case, known=owned_by)
