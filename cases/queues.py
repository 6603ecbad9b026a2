"""Task queues: what is waiting for whom, as single queries.

The rules mirror services.can_act, expressed as filters over Case.state and
the user's current posts and cells, so a queue of thousands is one query.
The open viewflow task of each case (its id and owner) is annotated.
"""

from __future__ import annotations

from django.db import models
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases.models import DeadlineState, State
from cases.services import visible_cases
from grid.models import CellAssignment, Post, Role


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


def _ids(posts, role: str, attr: str) -> set[int]:
    return {getattr(p, attr) for p in posts if p.role == role and getattr(p, attr)}


def actionable_q(user) -> models.Q:
    """Cases at a step this user's role and territory may complete (services.can_act)."""
    posts = list(Post.objects.current().filter(user=user))
    communities = {r: _ids(posts, r, "community_id") for r in Role.values}
    streets = {r: _ids(posts, r, "street_id") for r in Role.values}
    departments = _ids(posts, Role.HANDLER, "department_id")
    cells = set(
        CellAssignment.objects.current().filter(worker=user).values_list("cell_id", flat=True)
    )
    worker_communities = communities[Role.GRID_WORKER]
    covers = models.Q(cell_id__in=cells) | models.Q(
        cell__isnull=True, community_id__in=worker_communities
    )
    q = models.Q(pk__in=[])
    q |= models.Q(state=State.TRIAGE, community_id__in=communities[Role.DISPATCHER])
    q |= models.Q(
        state=State.TRIAGE, community__isnull=True, street_id__in=streets[Role.COORDINATOR]
    )
    q |= models.Q(state=State.ONSITE) & covers
    q |= models.Q(state=State.MEDIATION, community_id__in=communities[Role.MEDIATOR])
    q |= models.Q(state=State.STREET_DISPATCH, street_id__in=streets[Role.COORDINATOR])
    q |= models.Q(state=State.STREET_MEDIATION, street_id__in=streets[Role.MEDIATOR])
    q |= models.Q(state=State.DEPARTMENT, department_id__in=departments)
    q |= models.Q(state=State.VERIFY) & covers & ~models.Q(handler=user)
    q |= models.Q(state=State.RETURN_VISIT) & (
        covers | models.Q(community_id__in=communities[Role.DISPATCHER])
    )
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
    qs = with_task(visible_cases(user).filter(actionable_q(user)))
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
