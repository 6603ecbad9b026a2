"""Who may act on a case (the loop table's holders) and who sees the parties' phones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cases import loop
from cases.models import Case
from grid.models import CellAssignment, Post, Role
from grid.territory import Territory

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser


def staffing(user: AnyUser, territory: Territory | None = None) -> loop.Staffing:
    """The user's posts and cells as the loop table reads them.

    From `territory` (cached per process) when the caller has it; otherwise
    read now, so a step is never allowed on a post that has just ended.
    """
    if territory is not None and not territory.everything:
        return loop.Staffing.of(territory.posts, territory.cell_ids)
    if not user.is_authenticated:
        return loop.Staffing.of((), ())
    return loop.Staffing.of(
        Post.objects.current().filter(user=user),
        CellAssignment.objects.current().filter(worker=user).values_list("cell_id", flat=True),
    )


def can_act(
    user: AnyUser, case: Case, state: str | None = None, *, territory: Territory | None = None
) -> bool:
    """May `user` complete the step the case is at (or `state`)?

    The step belongs to the first level of its chain in the loop table that
    has anyone now; past the chain, to the superusers. `territory` is the
    user's (Territory.for_user), when the caller has it.
    """
    if not user.is_authenticated or not user.is_active:
        return False
    rule = loop.step(state or case.state)
    if rule is None:
        return False
    if rule.independent and case.handler_id == user.pk:
        return False  # nobody, superusers included, verifies or rates their own work
    staff = staffing(user, territory)
    level = rule.level_of(staff, case)
    # The closest level answers without a query: this user is in it.
    if level == 0 or (level is not None and rule.first_staffed(case) == level):
        return True
    if level is None and user.is_superuser and rule.first_staffed(case) is None:
        return True
    # A supervisor who took the step over (or had it reassigned to them) holds it.
    supervisor = user.is_superuser or loop.supervises(staff, case)
    return supervisor and _holds_task(user, case)


def supervises(user: AnyUser, case: Case, *, territory: Territory | None = None) -> bool:
    """One of the case's supervisors: its street's leaders and coordinators, its
    district's administrators, or a superuser."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or loop.supervises(staffing(user, territory), case)


def _holds_task(user: AnyUser, case: Case) -> bool:
    from cases.services.selectors import open_task

    task = open_task(case)
    return task is not None and task.owner_id == user.pk


def shows_party_phones(
    user: AnyUser, case: Case, *, acts: bool | None = None, territory: Territory | None = None
) -> bool:
    """Parties' phone numbers are for the people handling the case.

    `acts` is can_act() when the caller has it already.
    """
    if acts is None:
        acts = can_act(user, case, territory=territory)
    if acts or case.handler_id == user.pk:
        return True
    staff = staffing(user, territory)
    return any(
        case.community_id in staff.holds(role, loop.Level.COMMUNITY)
        for role in (Role.DISPATCHER, Role.MEDIATOR)
    )
