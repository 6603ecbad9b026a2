"""The loop's actions, one function each: triage, reject, return, dispatch, handle,
mediate, verify, return visit, and claiming a step.

Each runs in one transaction: _begin locks the case and checks, against the
loop table (cases.loop), that the action is possible at the case's step and
that the actor may act; _complete finishes the viewflow task towards a
destination the table allows, enters the next state and records it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import loop
from cases.loop import End
from cases.models import (
    REJECTION_REASONS,
    Case,
    CaseCellWorker,
    Category,
    ClosureReason,
    NotificationKind,
    Satisfaction,
    State,
    TimelineEntry,
    Urgency,
)
from cases.services.coverage import record_cell_workers
from cases.services.deadlines import enter_state
from cases.services.errors import ServiceError
from cases.services.notifications import notify
from cases.services.ownership import owners
from cases.services.permissions import can_act, supervises
from cases.services.photos import Checked, check_photos, save_photos
from cases.services.selectors import get_case_for, open_task, visible_cases
from cases.services.support import merge_supporters
from cases.services.timeline import record
from grid.models import Department

if TYPE_CHECKING:
    from cases.services.permissions import AnyUser

P = ParamSpec("P")

# How many times 不满意 at the return visit may send a case back to its handler.
VISIT_REOPEN_LIMIT = getattr(settings, "VISIT_REOPEN_LIMIT", 1)


@dataclass
class StepContext:
    case: Case
    task: Task
    actor: AnyUser
    now: datetime
    from_state: str
    action: str


def _sync_state(case: Case) -> str:
    """The state the flow is at now: its open human task, or how it ended."""
    task = open_task(case)
    if task is not None:
        return task.flow_task.name
    ended = (
        Task.objects.filter(process_id=case.process_id, flow_task_type="END")
        .order_by("-pk")
        .first()
    )
    if ended is not None and ended.flow_task.name == End.REJECTED:
        return State.REJECTED
    return State.CLOSED


def _begin(actor: AnyUser, number: str, task_id: int | None, action: str) -> StepContext:
    """Lock the case, check the step, the actor and a stale form; return what a step needs.

    Must run inside transaction.atomic().
    """
    case = get_case_for(actor, number, for_update=True)
    if case.state not in loop.ACTIONS[action].states():
        raise ServiceError(
            _("Case %(n)s is at “%(state)s”; this action is not possible now.")
            % {"n": case.number, "state": case.get_state_display()}
        )
    task = open_task(case)
    if task is None or (task_id is not None and task.pk != int(task_id)):
        raise ServiceError(
            _("This step of case %(n)s was already completed; reload to see where it is now.")
            % {"n": case.number}
        )
    if loop.ACTIONS[action].by == "supervisor":
        if not supervises(actor, case):
            raise ServiceError(
                _("Only the supervisors of case %(n)s may do this.") % {"n": case.number}
            )
        return StepContext(case, task, actor, timezone.now(), case.state, action)
    if not can_act(actor, case):
        raise ServiceError(_("You cannot act on this step of case %(n)s.") % {"n": case.number})
    if task.owner_id and task.owner_id != actor.pk and can_act(task.owner, case):
        # A claim whose holder can no longer act (their post ended without a
        # row change) does not block the step's owners.
        raise ServiceError(
            _("%(who)s has claimed this step.") % {"who": task.owner.get_full_name() or task.owner}
        )
    return StepContext(case, task, actor, timezone.now(), case.state, action)


def _complete(
    ctx: StepContext,
    route: str,
    *,
    event: str,
    note: str = "",
    data: dict[str, Any] | None = None,
    photos: Checked = (),
    client_id: str | None = None,
    notice: str = NotificationKind.TASK,
    also_tell: Iterable[int | None] = (),
    **case_fields: Any,
) -> TimelineEntry:
    """Finish the locked task towards `route`, enter the next state, record `event`
    and tell who must act next (`notice`; `also_tell` too), or the reporter at the end."""
    loop.check_route(ctx.from_state, ctx.action, route)
    case = ctx.case
    for name, value in case_fields.items():
        setattr(case, name, value)
    with ctx.task.activation() as activation:
        _take(activation, ctx.task, ctx.actor)
        activation.start(None)
        activation.process.choose(route)
        activation.process.save(update_fields=["data"])
        activation.execute()
    enter_state(case, _sync_state(case), ctx.now)
    case.save()
    entry = record(
        case,
        event,
        actor=ctx.actor,
        from_state=ctx.from_state,
        note=note,
        data=data,
        client_id=client_id,
        at=ctx.now,
    )
    save_photos(case, entry, photos, ctx.actor)
    _tell(ctx, notice, also_tell, note)
    return entry


def _tell(ctx: StepContext, kind: str, also: Iterable[int | None], note: str) -> None:
    """The next step's owners (the loop table's rule, services.ownership.owners) hear
    of it; at the end, the person who reported the case. Never the actor."""
    case = ctx.case
    if not case.is_open:
        _tell_reporters(ctx)
        return
    people = set(owners(case).values_list("pk", flat=True)) | {u for u in also if u}
    people.discard(ctx.actor.pk)
    texts = {
        NotificationKind.TASK: _("Case %(n)s is in your inbox at “%(s)s”."),
        NotificationKind.RETURNED: _("Case %(n)s was returned to “%(s)s”: %(note)s"),
        NotificationKind.REOPENED: _("Case %(n)s was reopened at “%(s)s”: %(note)s"),
    }
    text = texts[kind] % {"n": case.number, "s": case.get_state_display(), "note": note}
    notify(people, case, kind, text)


def _tell_reporters(ctx: StepContext) -> None:
    """At the end, whoever reported the case and every user who supported it ("me
    too") hear how it ended; a merged duplicate's reporter hears where it went."""
    case = ctx.case
    how = case.get_closure_reason_display() or case.get_state_display()
    if case.merged_into_id:
        text = _(
            "Case %(n)s that you reported was merged into %(m)s, which was reported "
            "already; you will hear its outcome."
        ) % {"n": case.number, "m": case.merged_into.number}
    else:
        text = _("Case %(n)s that you reported is finished: %(how)s.") % {
            "n": case.number,
            "how": how,
        }
    if case.reporter_id and case.reporter_id != ctx.actor.pk:
        notify([case.reporter_id], case, NotificationKind.CLOSED, text)
    supporters = set(case.supporters.filter(user__isnull=False).values_list("user_id", flat=True))
    supporters -= {ctx.actor.pk, case.reporter_id}
    if not supporters:
        return
    text = _("Case %(n)s that you reported too is finished: %(how)s.") % {
        "n": case.number,
        "how": how,
    }
    notify(supporters, case, NotificationKind.CLOSED, text)


def _take(activation: Any, task: Task, actor: AnyUser) -> None:
    """Assign the task to the actor, from whoever held a claim _begin let lapse."""
    if task.status == STATUS.ASSIGNED and task.owner_id != actor.pk:
        activation.unassign()
    if task.status == STATUS.NEW:
        activation.assign(actor)


def _idempotent(client_id: str | None, actor: AnyUser) -> TimelineEntry | None:
    if not client_id:
        return None
    entry = TimelineEntry.objects.filter(client_id=client_id).select_related("case").first()
    if entry is not None and entry.actor_id != actor.pk:
        raise ServiceError(_("This client id was already used by someone else."))
    return entry


def _run_step(fn: Callable[P, TimelineEntry]) -> Callable[P, TimelineEntry]:
    """Run a step atomically; a retried client_id returns the first result unchanged.

    The step keeps its signature (functools.wraps): the loop table checks it.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> TimelineEntry:
        actor, client_id = kwargs["actor"], kwargs.get("client_id")
        earlier = _idempotent(client_id, actor)
        if earlier is not None:
            return earlier
        try:
            with transaction.atomic():
                return fn(*args, **kwargs)
        except IntegrityError:
            earlier = _idempotent(client_id, actor)
            if earlier is None:
                raise
            return earlier

    return wrapper


def task_claim(*, actor: AnyUser, number: str, task_id: int | None = None) -> Task:
    """Take a step into my own queue so nobody else works on it."""
    with transaction.atomic():
        ctx = _begin(actor, number, task_id, "claim")
        if ctx.task.owner_id == actor.pk:
            raise ServiceError(_("You have already claimed this step."))
        with ctx.task.activation() as activation:
            _take(activation, ctx.task, actor)
        record(ctx.case, "claimed", actor=actor, from_state=ctx.case.state)
        return ctx.task


def task_unclaim(*, actor: AnyUser, number: str, task_id: int | None = None) -> Task:
    with transaction.atomic():
        ctx = _begin(actor, number, task_id, "unclaim")
        if ctx.task.owner_id != actor.pk:
            raise ServiceError(_("You have not claimed this step."))
        with ctx.task.activation() as activation:
            activation.unassign()
        record(ctx.case, "unclaimed", actor=actor, from_state=ctx.case.state)
        return ctx.task


@_run_step
def case_triage(
    *,
    actor: AnyUser,
    number: str,
    route: str,
    category: Category | None = None,
    urgency: str | None = None,
    note: str = "",
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """立案: accept the case, confirm its category and urgency, and dispatch it."""
    ctx = _begin(actor, number, task_id, "triage")
    if route not in loop.STEPS[State.TRIAGE].actions["triage"]:
        raise ServiceError(_("Choose where the case goes: on site, mediation or the street."))
    category = category or ctx.case.category
    if category.parent_id is None or not category.active:
        raise ServiceError(_("Choose an active category of the second level."))
    if route == State.MEDIATION and not category.is_dispute:
        raise ServiceError(_("Only disputes go to mediation."))
    if urgency and urgency not in Urgency.values:
        raise ServiceError(_("Unknown urgency %(u)s.") % {"u": urgency})
    return _complete(
        ctx,
        route,
        event="triaged",
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
    actor: AnyUser,
    number: str,
    reason: str,
    note: str = "",
    duplicate_of: str | None = None,
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """不予立案 with a coded reason; a duplicate's evidence and reporter merge into the original."""
    ctx = _begin(actor, number, task_id, "reject")
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
        End.REJECTED,
        event="rejected",
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


def _merge_target(actor: AnyUser, case: Case, number: str) -> Case:
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


def _merge_into(ctx: StepContext, original: Case) -> None:
    """The duplicate's reporter (and supporters) become supporters of the original; its
    photos join the original, on the original's timeline."""
    duplicate = ctx.case
    reporter = duplicate.reporter_name or (
        duplicate.reporter.get_full_name() if duplicate.reporter else ""
    )
    entry = record(
        original,
        "merged",
        actor=ctx.actor,
        from_state=original.state,
        note=_("Duplicate %(n)s merged: reporter %(who)s.")
        % {"n": duplicate.number, "who": reporter or "-"},
        data={
            "duplicate": duplicate.number,
            "reporter_id": duplicate.reporter_id,
            "reporter_name": duplicate.reporter_name,
            "reporter_phone": duplicate.reporter_phone,
        },
        at=ctx.now,
    )
    merge_supporters(actor=ctx.actor, duplicate=duplicate, into=original, entry=entry)


@_run_step
def case_return(
    *,
    actor: AnyUser,
    number: str,
    reason: str,
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """退回: the handler says the case is not theirs; it goes back a level for re-dispatch."""
    ctx = _begin(actor, number, task_id, "return")
    if not reason.strip():
        raise ServiceError(_("Say why you return the case."))
    if ctx.case.state == State.STREET_DISPATCH and ctx.case.community_id is None:
        raise ServiceError(_("The case has no community to return to; dispatch or reject it."))
    (back,) = loop.STEPS[ctx.case.state].actions["return"]
    # Who sent it to the returning step (triaged or dispatched it) hears too.
    sender = (
        TimelineEntry.objects.filter(case=ctx.case, to_state=ctx.case.state)
        .order_by("-seq")
        .values_list("actor_id", flat=True)
        .first()
    )
    return _complete(
        ctx,
        back,
        event="returned",
        note=reason,
        data={"reason": reason},
        client_id=client_id,
        notice=NotificationKind.RETURNED,
        also_tell=[sender],
        department=None if back == State.STREET_DISPATCH else ctx.case.department,
    )


@_run_step
def case_dispatch(
    *,
    actor: AnyUser,
    number: str,
    department: Department | None = None,
    to_mediation: bool = False,
    note: str = "",
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """The street dispatches to a department, or to the street mediation centre."""
    ctx = _begin(actor, number, task_id, "dispatch")
    if to_mediation:
        if not ctx.case.category.is_dispute:
            raise ServiceError(_("Only disputes go to mediation."))
        return _complete(
            ctx,
            State.STREET_MEDIATION,
            event="dispatched",
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
        State.DEPARTMENT,
        event="dispatched",
        note=note,
        data={"to": "department", "department": department.name},
        client_id=client_id,
        department=department,
        triaged_at=ctx.case.triaged_at or ctx.now,
    )


@_run_step
def case_handle(
    *,
    actor: AnyUser,
    number: str,
    result: str,
    photos: Sequence[UploadedFile] = (),
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """处置: the grid worker (on site) or the department reports the result."""
    ctx = _begin(actor, number, task_id, "handle")
    if not result.strip():
        raise ServiceError(_("Describe what was done."))
    record_cell_workers(ctx.case, CaseCellWorker.Stage.HANDLED, ctx.now)
    due = ctx.case.step_due
    return _complete(
        ctx,
        State.VERIFY,
        event="handled",
        note=result,
        # Kept with the step: the clock moves on to verification, and the
        # worker's figures (patrols.figures) count steps handled on time.
        data={"due": due.isoformat(), "late": ctx.now > due} if due else None,
        photos=check_photos(photos),
        client_id=client_id,
        handler=actor,
        handling_step=ctx.case.state,
    )


@_run_step
def case_mediate(
    *,
    actor: AnyUser,
    number: str,
    success: bool,
    note: str,
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """调解: record the agreement, or the failure that escalates one level."""
    ctx = _begin(actor, number, task_id, "mediate")
    if not note.strip():
        raise ServiceError(
            _("Record the agreement.") if success else _("Say why mediation failed.")
        )
    if success:
        return _complete(
            ctx,
            State.RETURN_VISIT,
            event="mediated",
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
            State.STREET_MEDIATION,
            event="mediation_failed",
            note=note,
            data={"success": False, "escalated_to": "street_mediation"},
            client_id=client_id,
        )
    return _complete(
        ctx,
        End.REFERRED,
        event="referred",
        note=note,
        data={"success": False, "escalated_to": "referral"},
        client_id=client_id,
        closure_reason=ClosureReason.REFERRED,
        closure_note=note,
    )


@_run_step
def case_verify(
    *,
    actor: AnyUser,
    number: str,
    passed: bool,
    note: str = "",
    photos: Sequence[UploadedFile] = (),
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """核查 on site by someone other than the handler; a failure reopens the handling step."""
    ctx = _begin(actor, number, task_id, "verify")
    if not passed and not note.strip():
        raise ServiceError(_("Say what is still wrong."))
    checked = check_photos(photos)
    if passed:
        return _complete(
            ctx,
            State.RETURN_VISIT,
            event="verified",
            note=note,
            photos=checked,
            data={"passed": True},
            client_id=client_id,
        )
    return _complete(
        ctx,
        ctx.case.handling_step,
        event="verification_failed",
        note=note,
        photos=checked,
        data={"passed": False},
        client_id=client_id,
        notice=NotificationKind.REOPENED,
        also_tell=[ctx.case.handler_id],
        reopen_count=ctx.case.reopen_count + 1,
    )


@_run_step
def case_return_visit(
    *,
    actor: AnyUser,
    number: str,
    satisfaction: str,
    words: str = "",
    reopen: bool = True,
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """回访: the resident's rating; 不满意 reopens once (VISIT_REOPEN_LIMIT), else closes."""
    ctx = _begin(actor, number, task_id, "return_visit")
    return visit_outcome(ctx, satisfaction, words, reopen=reopen, client_id=client_id)


def visit_outcome(
    ctx: StepContext, satisfaction: str, words: str, *, reopen: bool, client_id: str | None
) -> TimelineEntry:
    """The return visit's rating, from a worker's call or the resident's own page."""
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
            event="reopened",
            note=words,
            data={"satisfaction": satisfaction},
            client_id=client_id,
            notice=NotificationKind.REOPENED,
            also_tell=[case.handler_id],
            satisfaction=satisfaction,
            reopen_count=case.reopen_count + 1,
            visit_reopens=case.visit_reopens + 1,
            # The next return visit asks the resident again (this rating is on the timeline).
            resident_satisfaction="",
            resident_words="",
        )
    if satisfaction == Satisfaction.UNSATISFIED:
        reason = ClosureReason.UNSATISFIED_FINAL  # after an agreement too: not resolved
    elif case.closure_reason == ClosureReason.AGREEMENT:
        reason = case.closure_reason
    else:
        reason = ClosureReason.RESOLVED
    return _complete(
        ctx,
        End.CLOSED,
        event="closed",
        note=words,
        data={"satisfaction": satisfaction},
        client_id=client_id,
        satisfaction=satisfaction,
        closure_reason=reason,
    )
