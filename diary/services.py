"""Writing the work diary (民情日志): one function, exactly once per client id.

Refusals raise ValidationError ({field: message}) and write nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from cases.services.errors import ServiceError
from cases.services.photos import check_photos
from core.clock import implausible
from diary.models import DiaryEntry, DiaryPhoto
from grid.locate import OutsideTerritory, locate
from grid.models import CellAssignment, Community, GridCell, Role
from grid.territory import Territory

MAX_TEXT = 1000
MAX_PLACE = 100
MAX_PHOTOS = 6


@dataclass(frozen=True)
class DiaryResult:
    entry: DiaryEntry
    created: bool


def visible_entries(territory: Territory) -> QuerySet[DiaryEntry]:
    """The diary entries a territory's people may read: those of its communities and cells."""
    return DiaryEntry.objects.filter(territory.q())


def not_a_worker_message() -> str:
    return _("Only grid workers keep a work diary.")


def _earlier(client_id: str, author) -> DiaryResult | None:
    earlier = DiaryEntry.objects.filter(client_id=client_id).first()
    if earlier is None:
        return None
    if earlier.author_id != author.pk:
        raise ValidationError({"client_id": _("This client id was already used by someone else.")})
    return DiaryResult(earlier, created=False)


def _home(author, point: Point | None) -> tuple[Community, GridCell | None]:
    """The community (and cell) an entry belongs to: of its position, else of the
    author's first cell, else of the author's community post."""
    if point is not None:
        try:
            where = locate(point)
        except OutsideTerritory as exc:
            raise ValidationError({"lon": str(exc)}) from None
        if where.community is None:
            raise ValidationError({"lon": _("The position lies in no community.")})
        return where.community, where.cell
    assignment = (
        CellAssignment.objects.current()
        .filter(worker=author)
        .select_related("cell__community")
        .order_by("cell__code")
        .first()
    )
    if assignment is not None:
        return assignment.cell.community, assignment.cell
    community = (
        Community.objects.filter(pk__in=Territory.for_user(author).community_ids)
        .order_by("code")
        .first()
    )
    if community is None:
        raise ValidationError({"lon": _("Give the position: you cover no cell or community.")})
    return community, None


def _in_territory(territory: Territory, community: Community, cell: GridCell | None) -> bool:
    return (
        territory.everything
        or community.pk in territory.community_ids
        or community.street_id in territory.street_ids
        or (cell is not None and cell.pk in territory.cell_ids)
        or territory.communities().filter(pk=community.pk).exists()
    )


def diary_record(
    *,
    author,
    client_id: str,
    visited_at: datetime,
    text: str,
    place: str = "",
    point: Point | None = None,
    photos: Sequence[UploadedFile] = (),
    territory: Territory | None = None,
) -> DiaryResult:
    """Write a diary entry once; a client id already used returns the first (created=False)."""
    earlier = _earlier(client_id, author)
    if earlier is not None:
        return earlier
    territory = territory or Territory.for_user(author)
    if not territory.has_role(Role.GRID_WORKER):
        raise PermissionDenied(not_a_worker_message())
    text, place = (text or "").strip(), (place or "").strip()
    if not text:
        raise ValidationError({"text": _("Write what you saw or heard.")})
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": _("The text is longer than 1,000 characters.")})
    if implausible(visited_at):
        raise ValidationError(
            {"visited_at": _("The visit's time is impossible: check the phone's clock.")}
        )
    if len(place) > MAX_PLACE:
        raise ValidationError({"place": _("The place is longer than 100 characters.")})
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": _("At most %(n)d photos.") % {"n": MAX_PHOTOS}})
    try:
        checked = check_photos(photos)
    except ServiceError as exc:
        raise ValidationError({"photos": str(exc)}) from None
    community, cell = _home(author, point)
    if not _in_territory(territory, community, cell):
        raise ValidationError({"lon": _("The place lies outside your territory.")})
    try:
        with transaction.atomic():
            entry = DiaryEntry.objects.create(
                author=author,
                street_id=community.street_id,
                community=community,
                cell=cell,
                visited_at=visited_at,
                text=text,
                place=place,
                point=point,
                client_id=client_id,
            )
            for upload, content_type in checked:
                DiaryPhoto.objects.create(
                    entry=entry, file=upload, content_type=content_type, size=upload.size
                )
    except IntegrityError:
        earlier = _earlier(client_id, author)
        if earlier is None:
            raise
        return earlier
    return DiaryResult(entry, created=True)
