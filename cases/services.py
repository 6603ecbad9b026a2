"""Every change to a case, one function each.

Views, the API, admin actions, commands and the timer sweeper call these and
nothing else writes cases. Each function checks the actor's role and
territory, refuses what is not allowed now with a ServiceError whose message
a person can act on, changes the case and its viewflow task inside one
transaction, writes the timeline, and broadcasts only after commit.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import events, reference, seed
from cases.calendar import CHINA, Calendar
from cases.flows import CaseFlow
from cases.models import (
    OPEN_STATES,
    REJECTION_REASONS,
    Attachment,
    Case,
    CaseCounter,
    Category,
    ClosureReason,
    DeadlineState,
    EventSequence,
    Notification,
    Party,
    Satisfaction,
    Source,
    State,
    Step,
    TimelineEntry,
    Urgency,
)
from grid.locate import OutsideTerritory, locate
from grid.models import CellAssignment, Department, Post, Role
from grid.territory import Territory

MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
DUPLICATE_RADIUS_M = 100
DUPLICATE_WINDOW = timedelta(days=7)
# How many times 不满意 at the return visit may send a case back to its handler.
VISIT_REOPEN_LIMIT = getattr(settings, "VISIT_REOPEN_LIMIT", 1)
WARN_FRACTION = 0.8

# Which time limit applies while a case is in a state.
STATE_STEP = {
    State.TRIAGE: Step.TRIAGE,
    State.ONSITE: Step.HANDLING,
    State.DEPARTMENT: Step.HANDLING,
    State.MEDIATION: Step.MEDIATION,
    State.STREET_MEDIATION: Step.MEDIATION,
    State.STREET_DISPATCH: Step.DISPATCH,
    State.VERIFY: Step.VERIFY,
    State.RETURN_VISIT: Step.RETURN_VISIT,
}
# Built-in limits when no DeadlineRule matches (the seed migration writes the same).
DEFAULT_LIMITS = seed.DEFAULT_LIMITS


class ServiceError(Exception):
    """A refused action; the message is shown to the person who tried it."""


class NotFound(ServiceError):
    """The case does not exist in the actor's territory (shown as 404)."""


@dataclass(frozen=True)
class ReportResult:
    case: Case
    created: bool
    # A new case's open task, parties and timeline as written, so its first
    # answer (the API's 201) need not read them back. None: not in hand.
    task_id: int | None = None
    parties: list[Party] | None = None
    timeline: list[TimelineEntry] | None = None


# ---------------------------------------------------------------------------
# Who may act


def _current_posts(user, role: str, territory: Territory | None = None) -> list[Post]:
    if territory is not None and not territory.everything:
        return [p for p in territory.posts if p.role == role]
    return list(Post.objects.current().filter(user=user, role=role))


def _covers_cell(user, case: Case, territory: Territory | None = None) -> bool:
    """A grid worker looks after the case's cell, or its community when it has no cell."""
    if case.cell_id:
        if territory is not None and not territory.everything:
            return case.cell_id in territory.cell_ids
        return CellAssignment.objects.current().filter(worker=user, cell_id=case.cell_id).exists()
    posts = _current_posts(user, Role.GRID_WORKER, territory)
    return any(p.community_id == case.community_id for p in posts)


def _holds(user, role: str, case: Case, level: str, territory: Territory | None = None) -> bool:
    posts = _current_posts(user, role, territory)
    if level == "community":
        return any(p.community_id and p.community_id == case.community_id for p in posts)
    if level == "street":
        return any(p.street_id == case.street_id for p in posts)
    if level == "department":
        return any(p.department_id and p.department_id == case.department_id for p in posts)
    raise ValueError(level)


def can_act(
    user, case: Case, state: str | None = None, *, territory: Territory | None = None
) -> bool:
    """May `user` complete the step the case is at (or `state`)?

    `territory` (the user's, from Territory.for_user) answers from the posts
    and cells it holds, without queries.
    """
    if not user.is_authenticated or not user.is_active:
        return False
    state = state or case.state
    t = territory
    if state == State.TRIAGE:
        if case.community_id is None:  # 属地兜底 to the street: its coordinators triage
            return _holds(user, Role.COORDINATOR, case, "street", t)
        return _holds(user, Role.DISPATCHER, case, "community", t)
    if state == State.ONSITE:
        return _covers_cell(user, case, t)
    if state == State.MEDIATION:
        return _holds(user, Role.MEDIATOR, case, "community", t)
    if state == State.STREET_DISPATCH:
        return _holds(user, Role.COORDINATOR, case, "street", t)
    if state == State.STREET_MEDIATION:
        return _holds(user, Role.MEDIATOR, case, "street", t)
    if state == State.DEPARTMENT:
        return _holds(user, Role.HANDLER, case, "department", t)
    if state == State.VERIFY:
        return case.handler_id != user.pk and _covers_cell(user, case, t)
    if state == State.RETURN_VISIT:
        return _covers_cell(user, case, t) or _holds(user, Role.DISPATCHER, case, "community", t)
    return False


def visible_cases(user, territory: Territory | None = None):
    """The cases a user may see: everything in their territory, plus departments' own."""
    territory = territory or Territory.for_user(user)
    q = territory.q()
    if territory.department_ids:
        q |= Q(department_id__in=territory.department_ids)
    return Case.objects.filter(q)


def get_case_for(
    user, number: str, *, for_update: bool = False, territory: Territory | None = None
) -> Case:
    qs = visible_cases(user, territory)
    if for_update:
        qs = qs.select_for_update()
    try:
        return qs.get(number=number)
    except Case.DoesNotExist:
        raise NotFound(_("No case %(number)s in your territory.") % {"number": number}) from None


def shows_party_phones(
    user, case: Case, *, acts: bool | None = None, territory: Territory | None = None
) -> bool:
    """Parties' phone numbers are for the people handling the case.

    `acts` is can_act() when the caller has it already.
    """
    if acts is None:
        acts = can_act(user, case, territory=territory)
    if acts or case.handler_id == user.pk:
        return True
    return any(
        p.community_id == case.community_id
        for role in (Role.DISPATCHER, Role.MEDIATOR)
        for p in _current_posts(user, role, territory)
    )


# ---------------------------------------------------------------------------
# Timeline, events, deadlines


def _increment(sql: str, params: list) -> int:
    """Run an upsert-and-increment that RETURNs the new value (PostgreSQL and SQLite ≥ 3.35)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _next_seqs(count: int = 1) -> range:
    """Take `count` consecutive sequence numbers.

    The row lock is held until commit, so sequence numbers commit in order:
    a map that has seen N never later finds an N-1 it missed.
    """
    last = _increment(
        f"INSERT INTO {EventSequence._meta.db_table} (id, last) VALUES (1, %s) "
        "ON CONFLICT (id) DO UPDATE SET last = excluded.last + "
        f"{EventSequence._meta.db_table}.last RETURNING last",
        [count],
    )
    return range(last - count + 1, last + 1)


def entry_for(
    case: Case,
    action: str,
    *,
    actor=None,
    from_state: str = "",
    note: str = "",
    data: dict | None = None,
    client_id: str | None = None,
    at: datetime | None = None,
) -> TimelineEntry:
    """A timeline entry for the case as it is now, not yet numbered or saved."""
    return TimelineEntry(
        case=case,
        street_id=case.street_id,
        community_id=case.community_id,
        cell_id=case.cell_id,
        at=at or timezone.now(),
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=case.state,
        note=note,
        data=data or {},
        client_id=client_id,
    )


def record(case: Case, action: str, **fields) -> TimelineEntry:
    """Append a timeline entry (the event the map receives) and broadcast it after commit."""
    return record_many([entry_for(case, action, **fields)])[0]


def record_many(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """Number and save entries in one go; broadcast them after commit."""
    if not entries:
        return entries
    for entry, seq in zip(entries, _next_seqs(len(entries)), strict=True):
        entry.seq = seq
    if len(entries) == 1:
        entries[0].save()
    else:
        TimelineEntry.objects.bulk_create(entries)
    payloads = [events.event_payload(entry) for entry in entries]
    transaction.on_commit(lambda: events.broadcast(payloads))
    return entries


def time_limit(step: str, category: Category, urgency: str) -> tuple[int, str]:
    rules = reference.deadline_rules.get()
    for key in (category.pk, category.parent_id, None):
        if (step, urgency, key) in rules:
            return rules[(step, urgency, key)]
    return DEFAULT_LIMITS[(step, urgency)]


def _start_clock(case: Case, now: datetime) -> None:
    """Set the deadline of the step the case has just entered."""
    step = STATE_STEP.get(case.state)
    case.step_started = now
    case.deadline_state = DeadlineState.GREEN
    if step is None:
        case.step_warn_at = case.step_due = case.deadline_check_at = None
        return
    amount, unit = time_limit(step, case.category, case.urgency)
    calendar = Calendar(now.astimezone(CHINA).date())
    # In UTC, as the database gives them back: a case just saved and the same
    # case read again must answer alike (the API's 201 and its GET).
    case.step_due = calendar.add(now, amount, unit).astimezone(UTC)
    case.step_warn_at = calendar.add(now, amount * WARN_FRACTION, unit).astimezone(UTC)
    case.deadline_check_at = case.step_warn_at
    if case.state == State.TRIAGE and case.triage_due is None:
        case.triage_due = case.step_due


def _enter(case: Case, state: str, now: datetime) -> None:
    case.state = state
    if state in (State.CLOSED, State.REJECTED):
        case.closed_at = now
    _start_clock(case, now)


def _sync_state(case: Case) -> str:
    """The state the flow is at now: its open human task, or how it ended."""
    task = _open_task(case)
    if task is not None:
        return task.flow_task.name
    ended = (
        Task.objects.filter(process_id=case.process_id, flow_task_type="END")
        .order_by("-pk")
        .first()
    )
    if ended is not None and ended.flow_task.name == "rejected":
        return State.REJECTED
    return State.CLOSED


def _open_task(case: Case) -> Task | None:
    return (
        Task.objects.filter(
            process_id=case.process_id,
            flow_task_type="HUMAN",
            status__in=[STATUS.NEW, STATUS.ASSIGNED],
        )
        .select_related("owner")
        .order_by("-pk")
        .first()
    )


def open_task(case: Case) -> Task | None:
    return _open_task(case) if case.process_id else None


# ---------------------------------------------------------------------------
# Photos


def _check_photo(upload: UploadedFile) -> str:
    from PIL import Image, UnidentifiedImageError

    name = getattr(upload, "name", "") or "photo"
    if upload.size > MAX_PHOTO_BYTES:
        raise ServiceError(
            _("%(name)s is larger than %(mb)d MB.") % {"name": name, "mb": MAX_PHOTO_BYTES >> 20}
        )
    try:
        upload.seek(0)
        with Image.open(io.BytesIO(upload.read())) as image:
            image.verify()
            kind = image.format
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ServiceError(_("%(name)s is not an image.") % {"name": name}) from None
    if kind not in PHOTO_TYPES:
        raise ServiceError(_("%(name)s must be a JPEG, PNG or WebP image.") % {"name": name})
    upload.seek(0)
    return PHOTO_TYPES[kind]


def _check_photos(photos: Sequence[UploadedFile]) -> list[tuple[UploadedFile, str]]:
    return [(photo, _check_photo(photo)) for photo in photos]


def _save_photos(case: Case, entry: TimelineEntry | None, checked, actor) -> None:
    for upload, content_type in checked:
        Attachment.objects.create(
            case=case,
            entry=entry,
            file=upload,
            content_type=content_type,
            size=upload.size,
            uploaded_by=actor,
        )


# ---------------------------------------------------------------------------
# Report


def _next_number(street, now: datetime) -> str:
    day = now.astimezone(CHINA).date()
    table = CaseCounter._meta.db_table
    last = _increment(
        f"INSERT INTO {table} (street_id, day, last) VALUES (%s, %s, 1) "
        f"ON CONFLICT (street_id, day) DO UPDATE SET last = {table}.last + 1 RETURNING last",
        [street.pk, day],
    )
    return f"{street.code}-{day:%Y%m%d}-{last:04d}"


def _earlier_report(client_id: str | None, actor) -> ReportResult | None:
    """The case this actor already reported under `client_id`, if any."""
    if not client_id:
        return None
    # Ids only, in SQL written out: nearly every report is new, and the ORM's
    # query building cost more than the indexed lookup (docs/benchmarks.md).
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, reporter_id FROM {Case._meta.db_table} WHERE client_id = %s LIMIT 1",
            [client_id],
        )
        earlier = cursor.fetchone()
    if earlier is None:
        return None
    if earlier[1] != actor.pk:
        raise ServiceError(_("This client id was already used by someone else."))
    return ReportResult(Case.objects.get(pk=earlier[0]), created=False)


def _check_reporter(actor, location, territory: Territory | None) -> None:
    if not (territory or Territory.for_user(actor)).reaches(location.street):
        raise ServiceError(_("The location is outside your territory."))


def case_report(
    *,
    actor,
    category: Category,
    description: str,
    location: Point | tuple[float, float],
    source: str,
    urgency: str = Urgency.GENERAL,
    major_hazard: bool = False,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    parties: Iterable[dict] = (),
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
    checked = _check_photos(photos)
    now = timezone.now()
    # The street's daily counter row is locked until commit: numbered in its own
    # statement, before the case's transaction, reports from one street no
    # longer wait for each other's whole transaction (docs/benchmarks.md).
    # A report that then fails leaves a gap in the day's numbers.
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
    *, number: str, now: datetime, actor, where, location, parties, checked, **fields
) -> ReportResult:
    from grid.locate import as_point

    node = CaseFlow.start_hazard if fields["major_hazard"] else CaseFlow.start
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
        state=State.STREET_DISPATCH if fields["major_hazard"] else State.TRIAGE,
        **fields,
    )
    _start_clock(case, now)
    case.save()
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
    _save_photos(case, entry, checked, actor)
    if case.major_hazard:
        _alert_street(case, "hazard", _("Major safety hazard reported: %(n)s") % {"n": case.number})
    return ReportResult(
        case,
        created=True,
        task_id=_first_task(process).pk,
        parties=saved_parties,
        timeline=[entry],
    )


def _first_task(process) -> Task:
    """The human task the start opened (flows.InCallerTransactionStart keeps it)."""
    if process.new_task is None:
        raise RuntimeError("The case's flow must lead from its start straight to a human step")
    return process.new_task


def _alert_street(case: Case, kind: str, text: str) -> None:
    users = _supervisors([case.street_id]).get(case.street_id, ())
    Notification.objects.bulk_create(
        Notification(user_id=u, case=case, kind=kind, text=text[:300]) for u in sorted(users)
    )


def find_duplicates(case: Case, *, viewer, limit: int = 10):
    """Open cases of the same category within 100 m reported in the 7 days before
    or after it, among those `viewer` may see (never another street's)."""
    from django.contrib.gis.db.models.functions import Distance

    from grid.querysets import within_metres

    return (
        visible_cases(viewer)
        .filter(
            within_metres("location", case.location, DUPLICATE_RADIUS_M),
            category=case.category,
            state__in=OPEN_STATES,
            reported_at__gte=case.reported_at - DUPLICATE_WINDOW,
            reported_at__lte=case.reported_at + DUPLICATE_WINDOW,
        )
        .exclude(pk=case.pk)
        .annotate(distance=Distance("location", case.location))
        .filter(distance__lte=DUPLICATE_RADIUS_M)
        .order_by("distance")[:limit]
    )


# ---------------------------------------------------------------------------
# Steps


@dataclass
class StepContext:
    case: Case
    task: Task
    actor: object
    now: datetime
    from_state: str


def _begin(actor, number: str, task_id: int | None, expected: Iterable[str]) -> StepContext:
    """Lock the case, check the step, the actor and a stale form; return what a step needs.

    Must run inside transaction.atomic().
    """
    case = get_case_for(actor, number, for_update=True)
    expected = list(expected)
    if case.state not in expected:
        raise ServiceError(
            _("Case %(n)s is at “%(state)s”; this action is not possible now.")
            % {"n": case.number, "state": case.get_state_display()}
        )
    task = _open_task(case)
    if task is None or (task_id is not None and task.pk != int(task_id)):
        raise ServiceError(
            _("This step of case %(n)s was already completed; reload to see where it is now.")
            % {"n": case.number}
        )
    if not can_act(actor, case):
        raise ServiceError(_("You cannot act on this step of case %(n)s.") % {"n": case.number})
    if task.owner_id and task.owner_id != actor.pk:
        raise ServiceError(
            _("%(who)s has claimed this step.") % {"who": task.owner.get_full_name() or task.owner}
        )
    return StepContext(case, task, actor, timezone.now(), case.state)


def _complete(
    ctx: StepContext,
    route: str,
    *,
    action: str,
    note: str = "",
    data=None,
    photos=(),
    client_id: str | None = None,
    **case_fields,
) -> TimelineEntry:
    """Finish the locked task, follow `route`, enter the next state and record it."""
    case = ctx.case
    for name, value in case_fields.items():
        setattr(case, name, value)
    with ctx.task.activation() as activation:
        if ctx.task.status == STATUS.NEW:
            activation.assign(ctx.actor)
        activation.start(None)
        activation.process.data["route"] = route
        activation.process.save(update_fields=["data"])
        activation.execute()
    _enter(case, _sync_state(case), ctx.now)
    case.save()
    entry = record(
        case,
        action,
        actor=ctx.actor,
        from_state=ctx.from_state,
        note=note,
        data=data,
        client_id=client_id,
        at=ctx.now,
    )
    _save_photos(case, entry, photos, ctx.actor)
    return entry


def _idempotent(client_id: str | None, actor) -> TimelineEntry | None:
    if not client_id:
        return None
    entry = TimelineEntry.objects.filter(client_id=client_id).select_related("case").first()
    if entry is not None and entry.actor_id != actor.pk:
        raise ServiceError(_("This client id was already used by someone else."))
    return entry


def _run_step(fn):
    """Run a step atomically; a retried client_id returns the first result unchanged."""

    def wrapper(*, actor, number: str, client_id: str | None = None, **kwargs) -> TimelineEntry:
        earlier = _idempotent(client_id, actor)
        if earlier is not None:
            return earlier
        try:
            with transaction.atomic():
                return fn(actor=actor, number=number, client_id=client_id, **kwargs)
        except IntegrityError:
            earlier = _idempotent(client_id, actor)
            if earlier is None:
                raise
            return earlier

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def task_claim(*, actor, number: str, task_id: int | None = None) -> Task:
    """Take a step into my own queue so nobody else works on it."""
    with transaction.atomic():
        ctx = _begin(actor, number, task_id, OPEN_STATES)
        if ctx.task.owner_id == actor.pk:
            raise ServiceError(_("You have already claimed this step."))
        with ctx.task.activation() as activation:
            activation.assign(actor)
        record(ctx.case, "claimed", actor=actor, from_state=ctx.case.state)
        return ctx.task


def task_unclaim(*, actor, number: str, task_id: int | None = None) -> Task:
    with transaction.atomic():
        ctx = _begin(actor, number, task_id, OPEN_STATES)
        if ctx.task.owner_id != actor.pk:
            raise ServiceError(_("You have not claimed this step."))
        with ctx.task.activation() as activation:
            activation.unassign()
        record(ctx.case, "unclaimed", actor=actor, from_state=ctx.case.state)
        return ctx.task


TRIAGE_ROUTES = {
    "onsite": State.ONSITE,
    "mediation": State.MEDIATION,
    "street_dispatch": State.STREET_DISPATCH,
}


@_run_step
def case_triage(
    *,
    actor,
    number: str,
    route: str,
    category: Category | None = None,
    urgency: str | None = None,
    note: str = "",
    task_id=None,
    client_id=None,
) -> TimelineEntry:
    """立案: accept the case, confirm its category and urgency, and dispatch it."""
    ctx = _begin(actor, number, task_id, [State.TRIAGE])
    if route not in TRIAGE_ROUTES:
        raise ServiceError(_("Choose where the case goes: on site, mediation or the street."))
    category = category or ctx.case.category
    if category.parent_id is None or not category.active:
        raise ServiceError(_("Choose an active category of the second level."))
    if route == "mediation" and not category.is_dispute:
        raise ServiceError(_("Only disputes go to mediation."))
    if urgency is not None and urgency not in Urgency.values:
        raise ServiceError(_("Unknown urgency %(u)s.") % {"u": urgency})
    return _complete(
        ctx,
        route,
        action="triaged",
        note=note,
        data={"route": route, "category": category.code},
        client_id=client_id,
        category=category,
        urgency=urgency or ctx.case.urgency,
        triaged_at=ctx.now,
    )


@_run_step
def case_reject(
    *,
    actor,
    number: str,
    reason: str,
    note: str = "",
    duplicate_of: str | None = None,
    task_id=None,
    client_id=None,
) -> TimelineEntry:
    """不予立案 with a coded reason; a duplicate's evidence and reporter merge into the original."""
    ctx = _begin(actor, number, task_id, [State.TRIAGE, State.STREET_DISPATCH])
    if reason not in REJECTION_REASONS:
        raise ServiceError(_("Choose a rejection reason."))
    original = None
    if reason == ClosureReason.DUPLICATE:
        if not duplicate_of:
            raise ServiceError(_("Name the case this one duplicates."))
        original = _merge_target(actor, ctx.case, duplicate_of)
    elif not note.strip() and reason == ClosureReason.OUT_OF_SCOPE:
        raise ServiceError(_("Say why the case is out of scope."))
    entry = _complete(
        ctx,
        "rejected",
        action="rejected",
        note=note,
        data={"reason": reason, "duplicate_of": duplicate_of or ""},
        client_id=client_id,
        closure_reason=reason,
        closure_note=note,
        merged_into=original,
        triaged_at=ctx.case.triaged_at or ctx.now,
    )
    if original is not None:
        _merge_into(ctx, original)
    return entry


def _merge_target(actor, case: Case, number: str) -> Case:
    if number == case.number:
        raise ServiceError(_("A case cannot duplicate itself."))
    try:
        original = visible_cases(actor).select_for_update().get(number=number)
    except Case.DoesNotExist:
        raise ServiceError(_("No case %(n)s in your territory.") % {"n": number}) from None
    if not original.is_open:
        raise ServiceError(
            _("Case %(n)s is no longer open; it cannot take a duplicate.") % {"n": number}
        )
    return original


def _reporter_label(case: Case) -> str:
    if case.reporter_name:
        return case.reporter_name
    if case.reporter is not None:
        return case.reporter.get_full_name() or case.reporter.get_username()
    return "-"


def _merge_into(ctx: StepContext, original: Case) -> None:
    """Copy the duplicate's photos and reporter onto the original, on its timeline."""
    duplicate = ctx.case
    entry = record(
        original,
        "merged",
        actor=ctx.actor,
        from_state=original.state,
        note=_("Duplicate %(n)s merged: reporter %(who)s.")
        % {
            "n": duplicate.number,
            "who": duplicate.reporter_name
            or (duplicate.reporter and duplicate.reporter.get_full_name())
            or "-",
        },
        data={
            "duplicate": duplicate.number,
            "reporter_id": duplicate.reporter_id,
            "reporter_name": duplicate.reporter_name,
            "reporter_phone": duplicate.reporter_phone,
        },
        at=ctx.now,
    )
    for photo in duplicate.attachments.all():
        Attachment.objects.create(
            case=original,
            entry=entry,
            file=photo.file.name,
            content_type=photo.content_type,
            size=photo.size,
            uploaded_by=photo.uploaded_by,
        )


@_run_step
def case_return(*, actor, number: str, reason: str, task_id=None, client_id=None) -> TimelineEntry:
    """退回: the handler says the case is not theirs; it goes back for re-dispatch."""
    ctx = _begin(
        actor,
        number,
        task_id,
        [
            State.ONSITE,
            State.MEDIATION,
            State.STREET_DISPATCH,
            State.DEPARTMENT,
            State.STREET_MEDIATION,
        ],
    )
    if not reason.strip():
        raise ServiceError(_("Say why you return the case."))
    back = {
        State.ONSITE: "triage",
        State.MEDIATION: "triage",
        State.STREET_DISPATCH: "triage",
        State.DEPARTMENT: "street_dispatch",
        State.STREET_MEDIATION: "street_dispatch",
    }[ctx.case.state]
    if ctx.case.state == State.STREET_DISPATCH and ctx.case.community_id is None:
        raise ServiceError(_("The case has no community to return to; dispatch or reject it."))
    return _complete(
        ctx,
        back,
        action="returned",
        note=reason,
        data={"reason": reason},
        client_id=client_id,
        department=None if back == "street_dispatch" else ctx.case.department,
    )


@_run_step
def case_dispatch(
    *,
    actor,
    number: str,
    department: Department | None = None,
    to_mediation: bool = False,
    note: str = "",
    task_id=None,
    client_id=None,
) -> TimelineEntry:
    """The street dispatches to a department, or to the street mediation centre."""
    ctx = _begin(actor, number, task_id, [State.STREET_DISPATCH])
    if to_mediation:
        if not ctx.case.category.is_dispute:
            raise ServiceError(_("Only disputes go to mediation."))
        return _complete(
            ctx,
            "street_mediation",
            action="dispatched",
            note=note,
            data={"to": "street_mediation"},
            client_id=client_id,
        )
    if department is None:
        raise ServiceError(_("Choose a department."))
    if department.street_id not in (None, ctx.case.street_id) or (
        department.district_id not in (None, ctx.case.street.district_id)
    ):
        raise ServiceError(_("%(d)s does not serve this street.") % {"d": department})
    return _complete(
        ctx,
        "department",
        action="dispatched",
        note=note,
        data={"to": "department", "department": department.name},
        client_id=client_id,
        department=department,
        triaged_at=ctx.case.triaged_at or ctx.now,
    )


@_run_step
def case_handle(
    *,
    actor,
    number: str,
    result: str,
    photos: Sequence[UploadedFile] = (),
    task_id=None,
    client_id=None,
) -> TimelineEntry:
    """处置: the grid worker (on site) or the department reports the result."""
    ctx = _begin(actor, number, task_id, [State.ONSITE, State.DEPARTMENT])
    if not result.strip():
        raise ServiceError(_("Describe what was done."))
    checked = _check_photos(photos)
    return _complete(
        ctx,
        "verify",
        action="handled",
        note=result,
        photos=checked,
        client_id=client_id,
        handler=actor,
        handling_step=ctx.case.state,
    )


@_run_step
def case_mediate(
    *, actor, number: str, success: bool, note: str, task_id=None, client_id=None
) -> TimelineEntry:
    """调解: record the agreement, or the failure that escalates one level."""
    ctx = _begin(actor, number, task_id, [State.MEDIATION, State.STREET_MEDIATION])
    if not note.strip():
        raise ServiceError(
            _("Record the agreement.") if success else _("Say why mediation failed.")
        )
    if success:
        return _complete(
            ctx,
            "return_visit",
            action="mediated",
            note=note,
            data={"success": True},
            client_id=client_id,
            handler=actor,
            handling_step=ctx.case.state,
            closure_reason=ClosureReason.AGREEMENT,
        )
    if ctx.case.state == State.MEDIATION:
        return _complete(
            ctx,
            "street_mediation",
            action="mediation_failed",
            note=note,
            data={"success": False, "escalated_to": "street_mediation"},
            client_id=client_id,
        )
    return _complete(
        ctx,
        "referred",
        action="referred",
        note=note,
        data={"success": False, "escalated_to": "referral"},
        client_id=client_id,
        closure_reason=ClosureReason.REFERRED,
        closure_note=note,
    )


@_run_step
def case_verify(
    *,
    actor,
    number: str,
    passed: bool,
    note: str = "",
    photos: Sequence[UploadedFile] = (),
    task_id=None,
    client_id=None,
) -> TimelineEntry:
    """核查 on site by someone other than the handler; a failure reopens the handling step."""
    ctx = _begin(actor, number, task_id, [State.VERIFY])
    if not passed and not note.strip():
        raise ServiceError(_("Say what is still wrong."))
    checked = _check_photos(photos)
    if passed:
        return _complete(
            ctx,
            "return_visit",
            action="verified",
            note=note,
            photos=checked,
            data={"passed": True},
            client_id=client_id,
        )
    return _complete(
        ctx,
        ctx.case.handling_step,
        action="verification_failed",
        note=note,
        photos=checked,
        data={"passed": False},
        client_id=client_id,
        reopen_count=ctx.case.reopen_count + 1,
    )


@_run_step
def case_return_visit(
    *,
    actor,
    number: str,
    satisfaction: str,
    words: str = "",
    reopen: bool = True,
    task_id=None,
    client_id=None,
) -> TimelineEntry:
    """回访: the resident's rating; 不满意 reopens once (VISIT_REOPEN_LIMIT), else closes."""
    ctx = _begin(actor, number, task_id, [State.RETURN_VISIT])
    if satisfaction not in Satisfaction.values:
        raise ServiceError(_("Choose the resident's satisfaction."))
    case = ctx.case
    if (
        satisfaction == Satisfaction.UNSATISFIED
        and reopen
        and case.visit_reopens < VISIT_REOPEN_LIMIT
    ):
        return _complete(
            ctx,
            case.handling_step,
            action="reopened",
            note=words,
            data={"satisfaction": satisfaction},
            client_id=client_id,
            satisfaction=satisfaction,
            reopen_count=case.reopen_count + 1,
            visit_reopens=case.visit_reopens + 1,
        )
    reason = (
        case.closure_reason
        if case.closure_reason == ClosureReason.AGREEMENT
        else (
            ClosureReason.UNSATISFIED_FINAL
            if satisfaction == Satisfaction.UNSATISFIED
            else ClosureReason.RESOLVED
        )
    )
    return _complete(
        ctx,
        "closed",
        action="closed",
        note=words,
        data={"satisfaction": satisfaction},
        client_id=client_id,
        satisfaction=satisfaction,
        closure_reason=reason,
    )


# ---------------------------------------------------------------------------
# Deadlines (督办)


def _supervisors(street_ids: Iterable[int]) -> dict[int, set[int]]:
    """One level up from whoever holds the step: each street's coordinators and leaders."""
    posts = Post.objects.current().filter(
        role__in=[Role.COORDINATOR, Role.LEADER], street_id__in=set(street_ids)
    )
    found: dict[int, set[int]] = {}
    for street_id, user_id in posts.values_list("street_id", "user_id"):
        found.setdefault(street_id, set()).add(user_id)
    return found


def deadline_sweep(now: datetime | None = None, batch: int = 500) -> int:
    """Turn due steps yellow or red; escalate each red step exactly once.

    Reads only cases whose deadline_check_at has passed (an indexed column),
    so the work grows with the due steps, not with all open cases. A batch
    is locked, changed with two UPDATEs and recorded in one transaction (one
    step at a time cost ~7 ms each, docs/benchmarks.md). Rows another sweeper
    or a step in progress holds are skipped and come up in the next sweep, so
    two sweepers never change one case twice. Returns how many changed.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            # of=self: lock the cases, not the categories and streets beside them.
            Case.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("category", "street")
            .filter(deadline_check_at__lte=now, step_due__isnull=False)
            .order_by("deadline_check_at")[:batch]
        )
        red = [c for c in due if now >= c.step_due]
        yellow = [c for c in due if now < c.step_due and c.deadline_state == DeadlineState.GREEN]
        # Already yellow yet checked early (a hand edit): wait for the due time,
        # or such rows would head every batch and starve the rest.
        early = [c.pk for c in due if now < c.step_due and c.deadline_state != DeadlineState.GREEN]
        Case.objects.filter(pk__in=early).update(deadline_check_at=F("step_due"))
        _escalate(red, now)
        _warn(yellow, now)
    return len(red) + len(yellow)


def _escalate(cases: list[Case], now: datetime) -> None:
    if not cases:
        return
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(
        deadline_state=DeadlineState.RED, supervised=True, deadline_check_at=None
    )
    for case in cases:
        case.deadline_state, case.supervised, case.deadline_check_at = DeadlineState.RED, True, None
    record_many(
        [
            entry_for(
                case,
                "overdue",
                from_state=case.state,
                at=now,
                data={"due": case.step_due.isoformat(), "escalated": True},
                note=_("Past its deadline: escalated to the street (督办)."),
            )
            for case in cases
        ]
    )
    supervisors = _supervisors(c.street_id for c in cases)
    notices = []
    for case in cases:
        text = _("Case %(n)s is overdue at “%(s)s”.") % {
            "n": case.number,
            "s": case.get_state_display(),
        }
        notices += [
            Notification(user_id=u, case=case, kind="overdue", text=text[:300])
            for u in sorted(supervisors.get(case.street_id, ()))
        ]
    Notification.objects.bulk_create(notices)


def _warn(cases: list[Case], now: datetime) -> None:
    if not cases:
        return
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(
        deadline_state=DeadlineState.YELLOW, deadline_check_at=F("step_due")
    )
    for case in cases:
        case.deadline_state, case.deadline_check_at = DeadlineState.YELLOW, case.step_due
    record_many(
        [
            entry_for(
                case,
                "near_deadline",
                from_state=case.state,
                at=now,
                data={"due": case.step_due.isoformat()},
            )
            for case in cases
        ]
    )
