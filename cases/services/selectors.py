"""Reads the screens, the API and the steps share, each starting from the user's territory."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.gis.db.models.functions import Distance
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases.models import OPEN_STATES, Case
from cases.services.errors import NotFound
from grid.querysets import within_metres
from grid.territory import Territory

if TYPE_CHECKING:
    from cases.services.permissions import AnyUser

DUPLICATE_RADIUS_M = 100
DUPLICATE_WINDOW = timedelta(days=7)


def visible_cases(user: AnyUser, territory: Territory | None = None) -> QuerySet[Case]:
    """The cases a user may see: everything in their territory, plus departments' own."""
    territory = territory or Territory.for_user(user)
    q = territory.q()
    if territory.department_ids:
        q |= Q(department_id__in=territory.department_ids)
    return Case.objects.filter(q)


def get_case_for(
    user: AnyUser, number: str, *, for_update: bool = False, territory: Territory | None = None
) -> Case:
    qs = visible_cases(user, territory)
    if for_update:
        qs = qs.select_for_update()
    try:
        return qs.get(number=number)
    except Case.DoesNotExist:
        raise NotFound(_("No case %(number)s in your territory.") % {"number": number}) from None


def open_task(case: Case) -> Task | None:
    """The case's open human task (NEW or ASSIGNED), with its owner."""
    if not case.process_id:
        return None
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


def find_duplicates(case: Case, *, viewer: AnyUser, limit: int = 10) -> QuerySet[Case]:
    """Open cases of the same category within 100 m reported in the 7 days before
    or after it, among those `viewer` may see (never another street's)."""
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
