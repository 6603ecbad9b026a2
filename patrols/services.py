"""Every change to patrols and key places: one function each.

A patrol arrives whole from the phone (often from its outbox, possibly more
than once): record_patrol writes it exactly once by its client id. A case
logged during the patrol names it; link_case ties the two whichever arrives
first. Refusals raise ValidationError ({field: message}) and write nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.gis.geos import LineString, Point
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.clock import implausible
from grid.locate import OutsideTerritory, locate
from grid.models import GridCell, Role
from grid.territory import Territory
from patrols.geo import distance_m, path_length_m
from patrols.models import CheckIn, KeyPlace, Patrol, PatrolCase

if TYPE_CHECKING:
    from cases.models import Case

# A phone stamps its positions with the GPS clock and the patrol's start and
# end with its own: a minute either side is the same patrol, not a bad one.
CLOCK_SLACK = timedelta(minutes=1)
# A walk of a working day; longer is a patrol never ended (or a wrong clock),
# whose "hours on patrol" would be wrong in the worker table.
MAX_DURATION = timedelta(hours=24)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Fix:
    """A position the phone took: where, when, and how sure (metres, None if unknown)."""

    lon: float
    lat: float
    at: datetime
    accuracy: float | None = None


@dataclass(frozen=True)
class CheckInFix:
    place_id: int
    fix: Fix


@dataclass(frozen=True)
class PatrolPayload:
    client_id: str
    started_at: datetime
    ended_at: datetime
    points: list[Fix]
    check_ins: list[CheckInFix] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class PatrolResult:
    patrol: Patrol
    created: bool


def not_a_worker_message() -> str:
    return _("Only grid workers record patrols.")


def too_many_points_message(limit: int) -> str:
    return _("A patrol has at most %(n)d positions.") % {"n": limit}


def place_save(place: KeyPlace) -> KeyPlace:
    """Save a key place with the street, community and cell its point lies in."""
    try:
        where = locate(place.point)
    except OutsideTerritory as exc:
        raise ValidationError({"point": str(exc)}) from None
    place.street, place.community, place.cell = where.street, where.community, where.cell
    place.save()
    return place


def _earlier(client_id: str, worker) -> PatrolResult | None:
    earlier = Patrol.objects.filter(client_id=client_id).first()
    if earlier is None:
        return None
    if earlier.worker_id != worker.pk:
        raise ValidationError({"client_id": _("This client id was already used by someone else.")})
    return PatrolResult(earlier, created=False)


def _check_span(p: PatrolPayload) -> None:
    if p.ended_at < p.started_at:
        raise ValidationError({"ended_at": _("The patrol ends before it starts.")})
    if p.ended_at - p.started_at > MAX_DURATION:
        raise ValidationError(
            {"ended_at": _("A patrol lasts at most %(h)d hours.") % {"h": MAX_DURATION // HOUR}}
        )
    if implausible(p.started_at) or implausible(p.ended_at):
        raise ValidationError(
            {"started_at": _("The patrol's times are impossible: check the phone's clock.")}
        )
    if len(p.points) < 2:
        raise ValidationError({"points": _("A patrol needs at least two positions.")})
    if len(p.points) > settings.PATROL_MAX_POINTS:
        raise ValidationError({"points": too_many_points_message(settings.PATROL_MAX_POINTS)})
    earliest, latest = p.started_at - CLOCK_SLACK, p.ended_at + CLOCK_SLACK
    for before, after in zip(p.points, p.points[1:], strict=False):
        if after.at < before.at:
            raise ValidationError({"points": _("The positions are not in time order.")})
    if any(not earliest <= f.at <= latest for f in p.points):
        raise ValidationError(
            {"points": _("A position was taken outside the patrol's start and end.")}
        )


def _usable(points: list[Fix]) -> list[Fix]:
    """The positions the track and its length are made of.

    A fix worse than PATROL_MAX_ACCURACY_M (a phone indoors, or before the GPS
    settles) can be hundreds of metres off; each such jump would add twice its
    error to the length and draw a spike on the leader's map, so it is left out.
    """
    limit = settings.PATROL_MAX_ACCURACY_M
    return [f for f in points if f.accuracy is None or f.accuracy <= limit]


def _cells_and_home(track: LineString, fixes: list[Fix]):
    """The cells the track crosses, and the one most of its positions lie in."""
    # A worker who stood still walked a line of no length, which SpatiaLite
    # intersects with nothing: their one position is asked instead.
    shape = track if len(set(track.coords)) > 1 else Point(track.coords[0], srid=4326)
    cells = list(
        GridCell.objects.filter(boundary__intersects=shape)
        .select_related("community__street")
        .defer("community__boundary", "community__street__boundary")
        .order_by("code")
    )
    prepared = [(cell, cell.boundary.prepared) for cell in cells]
    votes: Counter[int] = Counter()
    for fix in fixes:
        point = Point(fix.lon, fix.lat, srid=4326)
        # A position between cells (or on none) votes for none.
        inside = next((n for n, (_c, shape) in enumerate(prepared) if shape.covers(point)), None)
        if inside is not None:
            votes[inside] += 1
    home = cells[votes.most_common(1)[0][0]] if votes else None
    return cells, home


def _check_ins(p: PatrolPayload, territory: Territory) -> list[tuple[CheckInFix, KeyPlace, float]]:
    ids = {c.place_id for c in p.check_ins}
    places = (
        KeyPlace.objects.filter(pk__in=ids, active=True)
        .select_related("street")
        .defer("street__boundary")
        .in_bulk()
    )
    earliest, latest = p.started_at - CLOCK_SLACK, p.ended_at + CLOCK_SLACK
    checked = []
    for c in p.check_ins:
        place = places.get(c.place_id)
        # A place of a street the worker does not patrol is as unknown as none:
        # its name stays in its own street, and no patrol of theirs checks in there.
        if place is None or not territory.reaches(place.street):
            raise ValidationError(
                {"check_ins": _("No active key place has the id %(id)s.") % {"id": c.place_id}}
            )
        if not earliest <= c.fix.at <= latest:
            raise ValidationError(
                {
                    "check_ins": _(
                        "The check-in at %(place)s is outside the patrol's start and end."
                    )
                    % {"place": place.name}
                }
            )
        distance = distance_m(place.point.x, place.point.y, c.fix.lon, c.fix.lat)
        # A fix's stated error is allowed for, but never more than the radius
        # itself: a check-in "within 50 m ± 500 m" would prove nothing.
        allowed = place.radius_m + min(c.fix.accuracy or 0, place.radius_m)
        if distance > allowed:
            raise ValidationError(
                {
                    "check_ins": _(
                        "The check-in at %(place)s was %(d)d m away; it must be within %(r)d m."
                    )
                    % {"place": place.name, "d": round(distance), "r": place.radius_m}
                }
            )
        checked.append((c, place, distance))
    return checked


def record_patrol(
    *, worker, payload: PatrolPayload, territory: Territory | None = None
) -> PatrolResult:
    """Record a finished patrol once: a client id already used returns the first (created=False)."""
    earlier = _earlier(payload.client_id, worker)
    if earlier is not None:
        return earlier
    territory = territory or Territory.for_user(worker)
    if not territory.has_role(Role.GRID_WORKER):
        raise PermissionDenied(not_a_worker_message())
    _check_span(payload)
    fixes = _usable(payload.points)
    if len(fixes) < 2:
        raise ValidationError(
            {
                "points": _("Fewer than two positions are accurate to %(m)d m.")
                % {"m": settings.PATROL_MAX_ACCURACY_M}
            }
        )
    coords = [(f.lon, f.lat) for f in fixes]
    track = LineString(coords, srid=4326)
    cells, home = _cells_and_home(track, fixes)
    if home is not None:
        street, community = home.community.street, home.community
    else:
        try:
            where = locate(Point(*coords[0], srid=4326))
        except OutsideTerritory as exc:
            raise ValidationError({"points": str(exc)}) from None
        street, community = where.street, where.community
    if not territory.reaches(street):
        raise ValidationError({"points": _("The patrol lies outside your territory.")})
    check_ins = _check_ins(payload, territory)
    try:
        with transaction.atomic():
            patrol = Patrol.objects.create(
                worker=worker,
                client_id=payload.client_id,
                started_at=payload.started_at,
                ended_at=payload.ended_at,
                track=track,
                length_m=round(path_length_m(coords), 1),
                duration_s=int((payload.ended_at - payload.started_at).total_seconds()),
                street=street,
                community=community,
                cell=home,
                note=payload.note.strip(),
            )
            patrol.cells.set(cells)
            CheckIn.objects.bulk_create(
                CheckIn(
                    patrol=patrol,
                    place=place,
                    at=c.fix.at,
                    point=Point(c.fix.lon, c.fix.lat, srid=4326),
                    distance_m=round(distance, 1),
                )
                for c, place, distance in check_ins
            )
            _link_waiting(patrol, payload.cases)
    except IntegrityError:
        # Two retries raced: the other one wrote it.
        earlier = _earlier(payload.client_id, worker)
        if earlier is None:
            raise
        return earlier
    return PatrolResult(patrol, created=True)


def _link_waiting(patrol: Patrol, case_client_ids: list[str]) -> None:
    """Tie the patrol to the reports that named it or that it names."""
    from cases.models import Case

    # Only the worker's own reports: a patrol's client id named by somebody
    # else's report (before the patrol arrived to be refused) is not theirs.
    waiting = PatrolCase.objects.filter(
        patrol_client_id=patrol.client_id, patrol=None, case__reporter=patrol.worker
    )
    waiting.update(patrol=patrol)
    known = set(
        PatrolCase.objects.filter(patrol=patrol).values_list("case_client_id", "case__client_id")
    )
    named = {cid for pair in known for cid in pair if cid}
    wanted = [cid for cid in dict.fromkeys(case_client_ids) if cid and cid not in named]
    cases = Case.objects.filter(client_id__in=wanted, reporter=patrol.worker).in_bulk(
        field_name="client_id"
    )
    PatrolCase.objects.bulk_create(
        (
            PatrolCase(
                patrol_client_id=patrol.client_id,
                patrol=patrol,
                case_client_id=cid,
                case=cases.get(cid),
            )
            for cid in wanted
        ),
        # A report linking itself at this moment wrote its row first: it is
        # claimed below, instead of its conflict undoing the whole patrol.
        ignore_conflicts=True,
    )
    waiting.update(patrol=patrol)


def check_case_link(*, actor, patrol_client_id: str) -> None:
    """Refuse, before a report is written, to tie it to somebody else's patrol."""
    other = Patrol.objects.filter(client_id=patrol_client_id).exclude(worker=actor).exists()
    if other:
        raise ValidationError({"patrol": _("This patrol is somebody else's.")})


def link_case(*, case: Case, patrol_client_id: str) -> None:
    """Tie a reported case to the patrol it was logged on, whichever arrived first.

    A patrol that arrived first left a row waiting for the report's client id:
    it is claimed. Safe to call again for a retried report.
    """
    check_case_link(actor=case.reporter, patrol_client_id=patrol_client_id)
    _claim_for(case, patrol_client_id)
    if PatrolCase.objects.filter(patrol_client_id=patrol_client_id, case=case).exists():
        return
    patrol = Patrol.objects.filter(client_id=patrol_client_id).first()
    try:
        with transaction.atomic():
            PatrolCase.objects.create(
                patrol_client_id=patrol_client_id,
                patrol=patrol,
                case_client_id=case.client_id or "",
                case=case,
            )
    except IntegrityError:
        # A concurrent retry of the same report linked it, or the patrol arrived
        # at this moment with a row waiting for this report: that row is claimed.
        _claim_for(case, patrol_client_id)


def _claim_for(case: Case, patrol_client_id: str) -> None:
    """Fill in the case of the row a patrol left waiting for this report's client id."""
    if case.client_id:
        PatrolCase.objects.filter(
            patrol_client_id=patrol_client_id, case_client_id=case.client_id, case=None
        ).update(case=case)
