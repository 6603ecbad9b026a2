"""Logging a new case: locate it, number it, start its flow and its first clock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from cases import loop
from cases.calendar import CHINA
from cases.flows import CaseFlow
from cases.models import (
    Attachment,
    Case,
    CaseCellWorker,
    CaseCounter,
    Category,
    NotificationKind,
    Party,
    Source,
    TimelineEntry,
    Urgency,
)
from cases.services.coverage import record_cell_workers
from cases.services.deadlines import start_clock, supervisors
from cases.services.errors import ServiceError
from cases.services.notifications import notify
from cases.services.ownership import owners
from cases.services.photos import Checked, check_photos, save_photos
from cases.services.residents import new_access_code
from cases.services.timeline import increment, record
from grid.locate import Location, OutsideTerritory, as_point, locate
from grid.models import Street
from grid.territory import Territory

if TYPE_CHECKING:
    from cases.services.permissions import AnyUser


@dataclass(frozen=True)
class ReportResult:
    case: Case
    created: bool
    # A new case's open task, parties and timeline as written, so its first
    # answer (the API's 201) need not read them back. None: not in hand.
    task_id: int | None = None
    parties: list[Party] | None = None
    timeline: list[TimelineEntry] | None = None
    attachments: list[Attachment] | None = None


def _next_number(street: Street, now: datetime) -> str:
    day = now.astimezone(CHINA).date()
    table = CaseCounter._meta.db_table
    last = increment(
        f"INSERT INTO {table} (street_id, day, last) VALUES (%s, %s, 1) "
        f"ON CONFLICT (street_id, day) DO UPDATE SET last = {table}.last + 1 RETURNING last",
        [street.pk, day],
    )
    return f"{street.code}-{day:%Y%m%d}-{last:04d}"


def _earlier_report(client_id: str | None, actor: AnyUser) -> ReportResult | None:
    """The case this actor already reported under `client_id`, if any."""
    if not client_id:
        return None
    # Ids first: nearly every report is new, and a new one needs no case read.
    earlier = Case.objects.filter(client_id=client_id).values_list("id", "reporter_id").first()
    if earlier is None:
        return None
    if earlier[1] != actor.pk:
        raise ServiceError(_("This client id was already used by someone else."))
    return ReportResult(Case.objects.get(pk=earlier[0]), created=False)


def _check_reporter(actor: AnyUser, location: Location, territory: Territory | None) -> None:
    if not (territory or Territory.for_user(actor)).reaches(location.street):
        raise ServiceError(_("The location is outside your territory."))


def case_report(
    *,
    actor: AnyUser,
    category: Category,
    description: str,
    location: Point | tuple[float, float],
    source: str,
    urgency: str = Urgency.GENERAL,
    major_hazard: bool = False,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_consent: bool = False,
    parties: Iterable[dict[str, str]] = (),
    photos: Sequence[UploadedFile] = (),
    client_id: str | None = None,
    territory: Territory | None = None,
) -> ReportResult:
    """Log a case: locate it, number it, start its flow and its first clock.

    With a client_id already used by this actor the earlier case is returned
    (created=False): a retried submission never makes a second case.
    `territory` is the actor's, when the caller has it already.
    """
    earlier = _earlier_report(client_id, actor)
    if earlier is not None:
        return earlier
    description = (description or "").strip()
    if not description:
        raise ServiceError(_("Describe the case."))
    if len(description) > 4000:
        raise ServiceError(_("The description is longer than 4,000 characters."))
    if not category.active or category.parent_id is None:
        raise ServiceError(_("Choose an active category of the second level."))
    if urgency not in Urgency.values:
        raise ServiceError(_("Unknown urgency %(u)s.") % {"u": urgency})
    if source not in Source.values:
        raise ServiceError(_("Unknown source %(s)s.") % {"s": source})
    if major_hazard and not category.is_hazard:
        raise ServiceError(_("Only a safety-hazard category can be a major safety hazard."))
    parties = list(parties)
    if any(not (p.get("name") or "").strip() for p in parties):
        raise ServiceError(_("Every party needs a name."))
    try:
        where = locate(location)
    except OutsideTerritory as exc:
        raise ServiceError(str(exc)) from None
    _check_reporter(actor, where, territory)
    checked = check_photos(photos)
    now = timezone.now()
    # Numbered in its own statement, before the case's transaction: the street's
    # counter row would otherwise stay locked until commit and make reports of
    # one street wait for each other. A report that then fails leaves a gap in
    # the day's numbers.
    number = _next_number(where.street, now)
    try:
        with transaction.atomic():
            return _create_case(
                number=number,
                now=now,
                actor=actor,
                category=category,
                description=description,
                where=where,
                location=location,
                source=source,
                urgency=urgency,
                major_hazard=major_hazard,
                address=address,
                reporter_name=reporter_name,
                reporter_phone=reporter_phone,
                reporter_consent=reporter_consent,
                parties=parties,
                checked=checked,
                client_id=client_id,
            )
    except IntegrityError:
        # Two retries raced: the other one created it.
        earlier = _earlier_report(client_id, actor)
        if earlier is None:
            raise
        return earlier


def _create_case(
    *,
    number: str,
    now: datetime,
    actor: AnyUser,
    where: Location,
    location: Point | tuple[float, float],
    parties: list[dict[str, str]],
    checked: Checked,
    **fields: Any,
) -> ReportResult:

    start = loop.start_node(fields["major_hazard"])
    node = getattr(CaseFlow, start)
    process = node.run()
    case = Case(
        process=process,
        number=number,
        location=as_point(location),
        street=where.street,
        community=where.community,
        cell=where.cell,
        reporter=actor,
        reported_at=now,
        state=loop.STARTS[start],
        access_code=new_access_code(),
        **fields,
    )
    start_clock(case, now)
    case.save()
    record_cell_workers(case, CaseCellWorker.Stage.REPORTED, now)
    saved_parties = [
        Party.objects.create(
            case=case,
            name=party["name"].strip(),
            phone=party.get("phone", ""),
            note=party.get("note", ""),
        )
        for party in parties
    ]
    entry = record(
        case,
        "reported",
        actor=actor,
        at=now,
        data={"locate": where.method, "source": case.source},
        client_id=None,
    )
    attachments = save_photos(case, entry, checked, actor)
    _tell_owners(case, actor)
    return ReportResult(
        case,
        created=True,
        task_id=_first_task(process).pk,
        parties=saved_parties,
        timeline=[entry],
        attachments=attachments,
    )


def _first_task(process: Any) -> Task:
    """The human task the start opened (flows.InCallerTransactionStart keeps it)."""
    if process.new_task is None:
        raise RuntimeError("The case's flow must lead from its start straight to a human step")
    return process.new_task


def _tell_owners(case: Case, actor: AnyUser) -> None:
    """The first step's owners hear of the new case; a major hazard alerts the
    street's leaders and coordinators, who then need no second notice of it."""
    alerted: set[int] = set()
    if case.major_hazard:
        alerted = supervisors([case.street_id]).get(case.street_id, set())
        text = _("Major safety hazard reported: %(n)s") % {"n": case.number}
        notify(alerted, case, NotificationKind.HAZARD, text)
    people = set(owners(case).values_list("pk", flat=True)) - alerted - {actor.pk}
    text = _("Case %(n)s is in your inbox at “%(s)s”.") % {
        "n": case.number,
        "s": case.get_state_display(),
    }
    notify(people, case, NotificationKind.TASK, text)
