"""No case without an owner (首接负责制): claims released when a post ends, stranded steps found.

Who owns a step is the loop table's chain (cases.loop): its first level with
anyone now. Past the chain only a superuser can act; such a case is listed by
`unowned()`, by `manage.py check_ownership`, on the administrators' page and
in the sweeper's alert. In a healthy installation that list is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import loop
from cases.models import OPEN_STATES, Case, Notification, NotificationKind
from cases.services.deadlines import supervisors
from cases.services.notifications import deliver, notify
from cases.services.permissions import can_act
from cases.services.selectors import visible_cases
from cases.services.timeline import record
from grid.models import Post, Role

if TYPE_CHECKING:
    from cases.services.permissions import AnyUser

# An alert about one stranded case is repeated at most this often.
ALERT_EVERY = timedelta(hours=24)


def release_claims(user: AnyUser) -> list[Case]:
    """Give back every step `user` has claimed and may no longer act on, on its timeline.

    Called when one of their posts or cell assignments ends (or they are
    deactivated): the step returns to whoever owns it now.
    """
    released = []
    claimed = Task.objects.filter(
        owner_id=user.pk, status=STATUS.ASSIGNED, flow_task_type="HUMAN"
    ).values_list("pk", "process_id")
    for task_id, process_id in claimed:
        with transaction.atomic():
            case = Case.objects.select_for_update().filter(process_id=process_id).first()
            task = Task.objects.select_for_update().filter(pk=task_id).first()
            if case is None or task is None or task.status != STATUS.ASSIGNED:
                continue
            if task.owner_id != user.pk or can_act(user, case):
                continue
            with task.activation() as activation:
                activation.unassign()
            record(
                case,
                "released",
                from_state=case.state,
                note=_("%(who)s no longer holds this step; it is back with its owners.")
                % {"who": user.get_full_name() or user.get_username()},
                data={"user_id": user.pk},
            )
            released.append(case)
    return released


def release_stale_claims() -> list[Case]:
    """Give back every claimed step whose holder may no longer act on it.

    After any change of staffing (a post that ends takes its holder's claims
    with it), and from the timer process every OWNERSHIP_CHECK_SECONDS for
    posts that end by their date with no row saved. A step a supervisor or
    superuser holds stays theirs (they may act on it) until they let it go.
    """
    from django.contrib.auth import get_user_model

    holders = (
        Task.objects.filter(status=STATUS.ASSIGNED, flow_task_type="HUMAN")
        .values_list("owner_id", flat=True)
        .distinct()
    )
    released = []
    for user in get_user_model().objects.filter(pk__in=holders):
        released += release_claims(user)
    return released


def unowned() -> QuerySet[Case]:
    """Open cases at a step nobody in its chain can take now (only a superuser could)."""
    q = Q(pk__in=[])
    for rule in loop.STEPS.values():
        q |= rule.unowned_q()
    return Case.objects.filter(q, state__in=OPEN_STATES)


@dataclass(frozen=True)
class Stranded:
    case: Case
    reason: str


def stranded(limit: int = 1000, *, viewer: AnyUser | None = None) -> list[Stranded]:
    """The unowned cases (those `viewer` may see), each with who is missing, level by level."""
    cases = unowned()
    if viewer is not None:
        cases = cases.filter(pk__in=visible_cases(viewer).values("pk"))
    cases = cases.select_related("street__district", "community", "cell", "department", "handler")
    return [Stranded(case, missing(case)) for case in cases.order_by("pk")[:limit]]


def missing(case: Case) -> str:
    rule = loop.step(case.state)
    if rule is None:
        return ""
    parts = [" / ".join(_holder_text(holder, case) for holder in level) for level in rule.chain]
    if rule.independent and case.handler_id:
        parts.append(_("the handler %(who)s may not act") % {"who": case.handler})
    return _("Nobody can act: ") + "; ".join(parts)


def _holder_text(holder: loop.Holder, case: Case) -> str:
    unit = {
        loop.Level.CELL: case.cell or case.community,
        loop.Level.COMMUNITY: case.community,
        loop.Level.STREET: case.street,
        loop.Level.DEPARTMENT: case.department,
        loop.Level.DISTRICT: case.street.district,
    }[holder.level]
    role = Role(holder.role).label
    if unit is None:
        return _("no %(role)s (the case has no %(level)s)") % {"role": role, "level": holder.level}
    return _("no %(role)s in %(unit)s") % {"role": role, "unit": unit}


def alert_unowned(now=None) -> int:
    """Tell each stranded case's street coordinators (or, without any, its district's
    administrators); once per case every ALERT_EVERY, many cases at once as a
    digest. Returns how many cases were told of."""
    now = now or timezone.now()
    recent = list(
        Notification.objects.filter(kind=NotificationKind.UNOWNED, created__gte=now - ALERT_EVERY)
    )
    already = {n.case_id for n in recent} | {number for n in recent for number in n.digest_of}
    rows = []
    told = 0
    for item in stranded():
        case = item.case
        if case.pk in already or case.number in already:
            continue
        text = _("Case %(n)s has no owner. %(why)s") % {"n": case.number, "why": item.reason}
        people = _supervisors_of(case)
        rows += [
            Notification(user_id=u, case=case, kind=NotificationKind.UNOWNED, text=text)
            for u in people
        ]
        told += bool(people)
    with transaction.atomic():
        deliver(rows)
    return told


def _supervisors_of(case: Case) -> list[int]:
    """Who is alerted: the street's, as at red (deadlines.supervisors), else the district's."""
    people = sorted(supervisors([case.street_id]).get(case.street_id, ()))
    if people:
        return people
    posts = Post.objects.current().filter(user__is_active=True)
    district = posts.filter(role=Role.ADMINISTRATOR, district_id=case.street.district_id)
    people = sorted(set(district.values_list("user_id", flat=True)))
    if people:
        return people
    # Nobody posted over it at all: the installation's administrators.
    from django.contrib.auth import get_user_model

    superusers = get_user_model().objects.filter(is_superuser=True, is_active=True)
    return sorted(superusers.values_list("pk", flat=True))


def owners(case: Case) -> QuerySet:
    """The people the step belongs to now: its chain's first level with anyone."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    rule = loop.step(case.state)
    if rule is None:
        return users.none()
    level = rule.first_staffed(case)
    if level is None:
        people = users.filter(is_superuser=True)
    else:
        q = Q(pk__in=[])
        for holder in rule.chain[level]:
            q |= Q(pk__in=holder.user_ids(case))
        people = users.filter(q)
    if rule.independent and case.handler_id:
        people = people.exclude(pk=case.handler_id)
    return people.distinct().order_by("username")


def tell_moved(case: Case, *, known: set[int | None]) -> None:
    """A case moved to another unit (转办, redrawn boundaries): its step is new to the
    new unit's owners, in their inbox now; `known` (who moved it, who had it) are not told."""
    people = set(owners(case).values_list("pk", flat=True)) - known
    text = _("Case %(n)s was transferred to you at “%(s)s”.") % {
        "n": case.number,
        "s": case.get_state_display(),
    }
    notify(people, case, NotificationKind.TASK, text)
