"""Supervision (督办, 改派, 接管, 转办): a case's supervisors steer it at any open step.

The supervisors of a case are its street's leaders and coordinators, its
district's administrators and the superusers (cases.loop.SUPERVISORS). None
of these actions completes the step: each changes who holds it, when it is
due or where it belongs, and says so on the timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from viewflow.workflow.status import STATUS

from cases import loop
from cases.models import Case, DeadlineState, NotificationKind, TimelineEntry
from cases.services.deadlines import WARN_FRACTION
from cases.services.errors import ServiceError
from cases.services.notifications import notify
from cases.services.ownership import owners, tell_moved
from cases.services.permissions import can_act
from cases.services.steps import StepContext, _begin, _run_step, _take
from cases.services.timeline import record
from grid.models import Community, Street
from grid.territory import Territory

if TYPE_CHECKING:
    from cases.services.permissions import AnyUser


def notify_owners(case: Case, kind: str, text: str) -> None:
    """Tell the people who must act on the case's step now."""
    notify(owners(case).values_list("pk", flat=True), case, kind, text)


@_run_step
def case_urge(
    *,
    actor: AnyUser,
    number: str,
    note: str,
    due: datetime | None = None,
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """督办: mark the case supervised, tell its owners, maybe bring its deadline forward."""
    ctx = _begin(actor, number, task_id, "urge")
    case = ctx.case
    if not note.strip():
        raise ServiceError(_("Say what must happen."))
    if due is not None:
        _bring_forward(ctx, due)
    case.supervised = True
    case.save()
    entry = record(
        case,
        "urged",
        actor=actor,
        from_state=case.state,
        note=note,
        data={"due": due.isoformat() if due else None},
        client_id=client_id,
        at=ctx.now,
    )
    who = actor.get_full_name() or actor.get_username()
    notify_owners(
        case,
        NotificationKind.URGE,
        _("%(who)s urges case %(n)s: %(note)s") % {"who": who, "n": case.number, "note": note},
    )
    return entry


def _bring_forward(ctx: StepContext, due: datetime) -> None:
    case = ctx.case
    if due <= ctx.now:
        raise ServiceError(_("The new deadline must be in the future."))
    if case.step_due is None or due >= case.step_due:
        raise ServiceError(_("The new deadline must be earlier than the step's deadline."))
    case.step_due = due
    warn_at = ctx.now + (due - ctx.now) * WARN_FRACTION
    case.step_warn_at = min(case.step_warn_at or warn_at, warn_at)
    case.deadline_check_at = (
        case.step_warn_at if case.deadline_state == DeadlineState.GREEN else case.step_due
    )


@_run_step
def case_reassign(
    *,
    actor: AnyUser,
    number: str,
    to: AnyUser,
    reason: str,
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """改派: give the step to another person who may act on it."""
    ctx = _begin(actor, number, task_id, "reassign")
    if not reason.strip():
        raise ServiceError(_("Say why you reassign the step."))
    if not can_act(to, ctx.case):
        raise ServiceError(
            _("%(who)s cannot act on this step.") % {"who": to.get_full_name() or to}
        )
    if ctx.task.owner_id == to.pk:
        raise ServiceError(
            _("%(who)s holds this step already.") % {"who": to.get_full_name() or to}
        )
    with ctx.task.activation() as activation:
        _take(activation, ctx.task, to)
    entry = record(
        ctx.case,
        "reassigned",
        actor=actor,
        from_state=ctx.case.state,
        note=reason,
        data={"to": to.pk},
        client_id=client_id,
        at=ctx.now,
    )
    text = _("Case %(n)s was assigned to you.") % {"n": number}
    notify([to.pk], ctx.case, NotificationKind.ASSIGNED, text)
    return entry


@_run_step
def case_take_over(
    *,
    actor: AnyUser,
    number: str,
    reason: str,
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """The supervisor takes the step into their own hands (they may then act on it)."""
    ctx = _begin(actor, number, task_id, "take_over")
    if not reason.strip():
        raise ServiceError(_("Say why you take the step over."))
    rule = loop.step(ctx.case.state)
    if rule is not None and rule.independent and ctx.case.handler_id == actor.pk:
        raise ServiceError(_("You handled this case; someone else must do this step."))
    if ctx.task.owner_id == actor.pk:
        raise ServiceError(_("You hold this step already."))
    with ctx.task.activation() as activation:
        _take(activation, ctx.task, actor)
    return record(
        ctx.case,
        "taken_over",
        actor=actor,
        from_state=ctx.case.state,
        note=reason,
        client_id=client_id,
        at=ctx.now,
    )


@_run_step
def case_transfer(
    *,
    actor: AnyUser,
    number: str,
    reason: str,
    community: Community | None = None,
    street: Street | None = None,
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    """转办: the case was placed in the wrong unit; it moves, at the same step, to the right one.

    Its claim is released, so the new unit's people own the step.
    """
    ctx = _begin(actor, number, task_id, "transfer")
    case = ctx.case
    if not reason.strip():
        raise ServiceError(_("Say why the case belongs elsewhere."))
    if bool(community) == bool(street):
        raise ServiceError(_("Choose either a community or a street."))
    target_street = community.street if community else street
    if (case.community_id, case.street_id) == (
        community.pk if community else None,
        target_street.pk,
    ):
        raise ServiceError(_("The case is there already."))
    territory = Territory.for_user(actor)
    reaches = (
        territory.communities().filter(pk=community.pk).exists()
        if community
        else territory.streets().filter(pk=street.pk).exists()
    )
    if not reaches:
        raise ServiceError(_("You can transfer a case only within your territory."))
    # First under the old units: their maps take the case off.
    record(
        case,
        "transferred_out",
        actor=actor,
        from_state=case.state,
        note=reason,
        at=ctx.now,
    )
    before = {
        "street": case.street.code,
        "community": case.community.code if case.community else None,
    }
    case.street, case.community, case.cell = target_street, community, None
    case.save()
    if ctx.task.status == STATUS.ASSIGNED:
        with ctx.task.activation() as activation:
            activation.unassign()
    entry = record(
        case,
        "transferred",
        actor=actor,
        from_state=case.state,
        note=reason,
        data={"from": before},
        client_id=client_id,
        at=ctx.now,
    )
    tell_moved(case, known={actor.pk})
    return entry
