"""Task queues: what is waiting for whom, as single queries.

Who may act is the loop table's (cases.loop): the same holders that
services.can_act asks case by case, here as one filter over Case.state and
the user's posts and cells, so a queue of thousands is one query.
The open viewflow task of each case (its id and owner) is annotated.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import loop
from cases.models import OPEN_STATES, DeadlineState, State
from cases.services import staffing, visible_cases


def _open_task(field: str):
    return models.Subquery(
        Task.objects.filter(
            process_id=models.OuterRef("process_id"),
            flow_task_type="HUMAN",
            status__in=[STATUS.NEW, STATUS.ASSIGNED],
        )
        .order_by("-pk")
        .values(field)[:1]
    )


def with_task(qs):
    return qs.annotate(task_id=_open_task("pk"), task_owner_id=_open_task("owner_id"))


def actionable_q(user: AbstractBaseUser) -> models.Q:
    """Cases at a step this user may complete: each step's holders in the loop table."""
    staff = staffing(user)
    q = models.Q(pk__in=[])
    for rule in loop.STEPS.values():
        q |= rule.q(staff, user.pk)
        if user.is_superuser:  # past every chain, the steps nobody else can take
            q |= rule.unowned_q(user.pk)
    return q


def deadline_first(qs):
    """Red, then yellow, then on time; within each the earliest deadline first."""
    urgency = models.Case(
        models.When(deadline_state=DeadlineState.RED, then=models.Value(0)),
        models.When(deadline_state=DeadlineState.YELLOW, then=models.Value(1)),
        default=models.Value(2),
        output_field=models.IntegerField(),
    )
    return qs.annotate(deadline_rank=urgency)


def my_tasks(user):
    """Steps assigned to me, and steps my role may claim in my territory."""
    # A step held by me (claimed, reassigned to me, taken over) is mine whoever owns it.
    qs = with_task(visible_cases(user)).filter(
        actionable_q(user) | models.Q(task_owner_id=user.pk), state__in=OPEN_STATES
    )
    qs = qs.filter(models.Q(task_owner_id__isnull=True) | models.Q(task_owner_id=user.pk))
    return (
        deadline_first(qs)
        .select_related("category", "street", "community", "cell")
        .order_by("deadline_rank", "step_due")
    )


def triage_queue(user):
    """The dispatcher's communities' cases awaiting triage: overdue first, then newest."""
    qs = with_task(visible_cases(user).filter(actionable_q(user), state=State.TRIAGE))
    return (
        deadline_first(qs)
        .select_related("category", "street", "community", "cell", "reporter")
        .order_by("deadline_rank", "-reported_at")
    )
