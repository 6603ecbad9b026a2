"""Deadlines: each step's time limit and clock, and the sweeper's yellow, red and 督办."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import loop, reference, seed
from cases.calendar import CHINA, Calendar
from cases.models import (
    Case,
    Category,
    DeadlineState,
    LimitUnit,
    Notification,
    NotificationKind,
    State,
)
from cases.services.notifications import deliver
from cases.services.timeline import entry_for, record_many
from grid.models import Post, Role

WARN_FRACTION = 0.8
# Built-in limits when no DeadlineRule matches (the seed migration writes the same).
DEFAULT_LIMITS = seed.DEFAULT_LIMITS


def time_limit(step: str, category: Category, urgency: str) -> tuple[int, str]:
    rules = reference.deadline_rules.get()
    for key in (category.pk, category.parent_id, None):
        if (step, urgency, key) in rules:
            return rules[(step, urgency, key)]
    return DEFAULT_LIMITS[(step, urgency)]


def start_clock(case: Case, now: datetime) -> None:
    """Set the deadline of the step the case has just entered."""
    rule = loop.step(case.state)
    step = rule.clock if rule else None
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
    warn_at = calendar.add(now, amount * WARN_FRACTION, unit)
    if unit != LimitUnit.HOURS:
        # A yellow warning is for someone at their desk: not at 08:09 or on a Sunday.
        warn_at = min(calendar.in_office_hours(warn_at), case.step_due)
    case.step_warn_at = warn_at.astimezone(UTC)
    case.deadline_check_at = case.step_warn_at
    if case.triage_due is None:
        # The response deadline: the first step's, triage or (a major hazard)
        # the street's dispatch. The response rate counts against it.
        case.triage_due = case.step_due


def enter_state(case: Case, state: str, now: datetime) -> None:
    case.state = state
    if state in (State.CLOSED, State.REJECTED):
        case.closed_at = now
    start_clock(case, now)


def supervisors(street_ids: Iterable[int]) -> dict[int, set[int]]:
    """One level up from whoever holds the step: each street's coordinators and leaders."""
    posts = Post.objects.current().filter(
        role__in=[Role.COORDINATOR, Role.LEADER],
        street_id__in=set(street_ids),
        user__is_active=True,
    )
    found: dict[int, set[int]] = {}
    for street_id, user_id in posts.values_list("street_id", "user_id"):
        found.setdefault(street_id, set()).add(user_id)
    return found


def deadline_sweep(now: datetime | None = None, batch: int = 500) -> int:
    """Turn due steps yellow or red; escalate each red step exactly once.

    Reads only cases whose deadline_check_at has passed (an indexed column),
    so the work grows with the due steps, not with all open cases. A batch
    is locked, changed with two UPDATEs and recorded in one transaction, so
    a backlog after an outage clears in seconds. Rows another sweeper
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
    notified = supervisors(c.street_id for c in cases)
    notices = []
    for case in cases:
        text = _("Case %(n)s is overdue at “%(s)s”.") % {
            "n": case.number,
            "s": case.get_state_display(),
        }
        notices += [
            Notification(user_id=u, case=case, kind=NotificationKind.OVERDUE, text=text)
            for u in sorted(notified.get(case.street_id, ()))
        ]
    late = _("Your step of case %(n)s is past its deadline.")
    deliver(notices + _to_owners(cases, NotificationKind.LATE, late))


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
    soon = _("Your step of case %(n)s is due soon.")
    deliver(_to_owners(cases, NotificationKind.DUE_SOON, soon))


def _to_owners(cases: list[Case], kind: str, text: str) -> list[Notification]:
    """A notice to each step's owners (services.ownership.owners: the loop table's rule).

    Cases at one step in the same units have the same owners: asked once per
    such group, so a batch costs queries per unit, not per case.
    """
    # ownership imports this module (supervisors), so it is imported here.
    from cases.services.ownership import owners

    found: dict[tuple, list[int]] = {}
    notices = []
    for case in cases:
        key = (
            case.state,
            case.cell_id,
            case.community_id,
            case.street_id,
            case.department_id,
            case.handler_id,
        )
        if key not in found:
            found[key] = list(owners(case).values_list("pk", flat=True))
        notices += [
            Notification(user_id=u, case=case, kind=kind, text=text % {"n": case.number})
            for u in found[key]
        ]
    return notices
