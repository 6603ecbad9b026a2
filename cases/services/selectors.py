"""Reads the screens, the API and the steps share, each starting from the user's territory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases.models import OPEN_STATES, Case, Category, DeadlineState
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


@dataclass(frozen=True, kw_only=True)
class CaseFilters:
    """What a case list may be narrowed by: the API's list, the search page and exports.

    Units are given as the public codes the API speaks (community, cell) or the
    department's id; a code outside the user's territory simply matches nothing,
    because the list starts from visible_cases. `category` is a group's or a
    kind's code; `deadline` is "overdue" (open and red) or "due_soon" (open and
    yellow); `text` is a substring of the number, description or address.
    """

    state: str | None = None
    category: str | None = None
    urgency: str | None = None
    community: str | None = None
    cell: str | None = None
    department: int | None = None
    deadline: Literal["overdue", "due_soon"] | None = None
    supervised: bool | None = None
    reopened: bool | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    mine: bool = False
    text: str = ""


DEADLINE_COLOURS = {"overdue": DeadlineState.RED, "due_soon": DeadlineState.YELLOW}


def filtered_cases(
    user: AnyUser, filters: CaseFilters, *, territory: Territory | None = None
) -> QuerySet[Case]:
    """The cases `user` may see, narrowed by `filters`: the one implementation of a case
    list's filters, so the API, the search page and an export of it list the same rows."""
    f = filters
    qs = visible_cases(user, territory)
    exact = {
        "state": f.state,
        "urgency": f.urgency,
        "community__code": f.community,
        "cell__code": f.cell,
        "department_id": f.department,
        "source": f.source,
        "supervised": f.supervised,
        "reported_at__gte": f.since,
        "reported_at__lt": f.until,
    }
    qs = qs.filter(**{k: v for k, v in exact.items() if v is not None})
    if f.category:
        qs = qs.filter(Q(category__code=f.category) | Q(category__parent__code=f.category))
    if f.deadline:
        qs = qs.filter(state__in=OPEN_STATES, deadline_state=DEADLINE_COLOURS[f.deadline])
    if f.reopened is not None:
        # Every reopen counts here, after a failed verification or a return visit.
        qs = qs.filter(reopen_count__gt=0) if f.reopened else qs.filter(reopen_count=0)
    if f.mine:
        qs = qs.filter(reporter=user)
    if text := f.text.strip():
        qs = qs.filter(text_matches(text))
    return qs


def text_matches(text: str) -> Q:
    """A substring of the number, the description or the address, any case.

    Chinese has no spaces between words, so this is a substring match, not a
    word search. On PostgreSQL `icontains` is UPPER(column) LIKE UPPER('%…%'),
    which the trigram indexes of migration 0010 serve for three characters or
    more; on SpatiaLite it is a LIKE over the rows the other filters left.
    """
    return Q(number__icontains=text) | Q(description__icontains=text) | Q(address__icontains=text)


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


def nearby_open_cases(
    viewer: AnyUser,
    *,
    category: Category,
    point: Point,
    now: datetime | None = None,
    territory: Territory | None = None,
    limit: int = 10,
) -> QuerySet[Case]:
    """What a reporter is offered to support instead of reporting again ("me too"):
    open cases of the same category within 100 m, reported in the last 7 days,
    among those `viewer` may see, nearest first, each with its `distance`.

    Cases the viewer reported for themselves or already supports are left out:
    they cannot join them a second time (a dispatcher's hotline cases, reported
    for residents, stay in).
    """
    now = now or timezone.now()
    return (
        visible_cases(viewer, territory)
        .filter(
            within_metres("location", point, DUPLICATE_RADIUS_M),
            category=category,
            state__in=OPEN_STATES,
            reported_at__gte=now - DUPLICATE_WINDOW,
        )
        .exclude(reporter=viewer, reporter_name="", reporter_phone="")
        .exclude(supporters__user=viewer)
        .annotate(distance=Distance("location", point))
        .filter(distance__lte=DUPLICATE_RADIUS_M)
        .order_by("distance")[:limit]
    )
