""" "Me too": someone else reports a problem already open, and joins its case as a
supporter instead of filing a second case for triage to merge.

A supporter is not a new task: the case's owners are told nothing. The
supporter hears the outcome when the case ends (steps._tell), a resident
follows it on /r/ with the case's number and code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Attachment, Case, Source, Supporter, TimelineEntry
from cases.services.errors import ServiceError
from cases.services.photos import check_photos, save_photos
from cases.services.selectors import get_case_for
from cases.services.timeline import record

if TYPE_CHECKING:
    from cases.services.permissions import AnyUser
    from grid.territory import Territory

MAX_WORDS = 4000


def _earlier(client_id: str | None, actor: AnyUser) -> Supporter | None:
    """The support this actor already sent under `client_id`, if any."""
    if not client_id:
        return None
    earlier = Supporter.objects.filter(client_id=client_id).select_related("case").first()
    if earlier is None:
        return None
    # The phone's outbox gives a report and the support it became one id.
    if earlier.entry.actor_id != actor.pk:
        raise ServiceError(_("This client id was already used by someone else."))
    return earlier


def case_support(
    *,
    actor: AnyUser,
    number: str,
    words: str = "",
    photos: Sequence[UploadedFile] = (),
    reporter_name: str = "",
    reporter_phone: str = "",
    source: str = Source.API,
    client_id: str | None = None,
    territory: Territory | None = None,
) -> Supporter:
    """Add a supporter to an open case the actor may see: the actor themselves, or
    the resident whose name or phone they give (hotline, API).

    With a client_id already used by this actor the earlier support is returned.
    """
    earlier = _earlier(client_id, actor)
    if earlier is not None:
        return earlier
    words = (words or "").strip()
    if len(words) > MAX_WORDS:
        raise ServiceError(_("The description is longer than 4,000 characters."))
    if source not in Source.values:
        raise ServiceError(_("Unknown source %(s)s.") % {"s": source})
    reporter_name, reporter_phone = reporter_name.strip(), reporter_phone.strip()
    checked = check_photos(photos)
    try:
        with transaction.atomic():
            case = get_case_for(actor, number, for_update=True, territory=territory)
            _check_open(case)
            resident = bool(reporter_name or reporter_phone)
            if not resident:
                _check_not_yet(case, actor)
            supporter = _add(
                case,
                actor=actor,
                user=None if resident else actor,
                name=reporter_name,
                phone=reporter_phone,
                words=words,
                source=source,
                client_id=client_id or None,
            )
            save_photos(case, supporter.entry, checked, actor)
            return supporter
    except IntegrityError:
        # Two retries raced: the other one added it.
        earlier = _earlier(client_id, actor)
        if earlier is None:
            raise
        return earlier


def _check_open(case: Case) -> None:
    if not case.is_open:
        text = _("Case %(n)s is no longer open; report the problem as a new case.")
        raise ServiceError(text % {"n": case.number})


def _check_not_yet(case: Case, actor: AnyUser) -> None:
    own = case.reporter_id == actor.pk and not (case.reporter_name or case.reporter_phone)
    if own or case.supporters.filter(user=actor).exists():
        raise ServiceError(_("You reported case %(n)s already.") % {"n": case.number})


def _add(
    case: Case,
    *,
    actor: AnyUser,
    user: AnyUser | None,
    name: str,
    phone: str,
    words: str,
    source: str,
    client_id: str | None = None,
    entry: TimelineEntry | None = None,
    merged_from: Case | None = None,
    at: datetime | None = None,
) -> Supporter:
    """One supporter more on `case` (locked by the caller), with its timeline entry."""
    at = at or timezone.now()
    if entry is None:
        entry = record(
            case,
            "supported",
            actor=actor,
            from_state=case.state,
            note=words,
            data={"source": source},
            at=at,
        )
    supporter = Supporter.objects.create(
        case=case,
        user=user,
        name=name,
        phone=phone,
        words=words,
        source=source,
        at=at,
        entry=entry,
        merged_from=merged_from,
        client_id=client_id,
    )
    Case.objects.filter(pk=case.pk).update(supporter_count=F("supporter_count") + 1)
    case.supporter_count += 1
    return supporter


def merge_supporters(*, actor: AnyUser, duplicate: Case, into: Case, entry: TimelineEntry) -> None:
    """A duplicate merged at triage: its reporter, and anyone who supported it, become
    supporters of the kept case `into` (locked by the caller); its photos join it."""
    resident = bool(duplicate.reporter_name or duplicate.reporter_phone)
    _add(
        into,
        actor=actor,
        user=None if resident else duplicate.reporter,
        name=duplicate.reporter_name,
        phone=duplicate.reporter_phone,
        words=duplicate.description,
        source=duplicate.source,
        entry=entry,
        merged_from=duplicate,
        at=entry.at,
    )
    for earlier in duplicate.supporters.all():
        _add(
            into,
            actor=actor,
            user=earlier.user,
            name=earlier.name,
            phone=earlier.phone,
            words=earlier.words,
            source=earlier.source,
            entry=entry,
            merged_from=duplicate,
            at=entry.at,
        )
    for photo in duplicate.attachments.all():
        Attachment.objects.create(
            case=into,
            entry=entry,
            file=photo.file.name,
            content_type=photo.content_type,
            size=photo.size,
            uploaded_by=photo.uploaded_by,
        )
