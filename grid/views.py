"""Who covered which cell, when: history pages for the people who steer a territory.

Each view opens with a fetch from the viewer's territory (grid.territory):
a cell, worker or log entry outside it is a 404, as if it did not exist.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from grid.models import CellAssignment, GridCell, Role, StaffingLog
from grid.territory import Territory

# Leaders steer; coordinators and administrators staff the cells.
READERS = (Role.LEADER, Role.COORDINATOR, Role.ADMINISTRATOR)


def _territory_of_reader(request: HttpRequest) -> Territory:
    territory = Territory.for_user(request.user)
    if not any(territory.has_role(role) for role in READERS):
        raise PermissionDenied
    return territory


def _cell_or_404(request: HttpRequest, code: str) -> GridCell:
    territory = _territory_of_reader(request)
    cell = territory.cells().select_related("community__street").filter(code=code).first()
    if cell is None:
        raise Http404(_("No such cell in your territory."))
    return cell


@login_required
def cells(request: HttpRequest) -> HttpResponse:
    """The cells of the viewer's territory with who covers each now."""
    territory = _territory_of_reader(request)
    current = CellAssignment.objects.current().select_related("worker").order_by("started")
    rows = (
        territory.cells()
        .select_related("community")
        .defer("boundary", "community__boundary")
        .prefetch_related(Prefetch("assignments", queryset=current, to_attr="current"))
        .order_by("code")
    )
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(request, "grid/cells.html", {"page": page})


@login_required
def cell_history(request: HttpRequest, code: str) -> HttpResponse:
    """Per cell: who covered it, from when to when, newest first."""
    cell = _cell_or_404(request, code)
    history = cell.assignments.select_related("worker").order_by("-started", "-pk")
    return render(request, "grid/cell_history.html", {"cell": cell, "history": history})


@login_required
def worker_history(request: HttpRequest, username: str) -> HttpResponse:
    """Per worker: the cells of the viewer's territory they covered over time."""
    territory = _territory_of_reader(request)
    history = (
        CellAssignment.objects.filter(
            worker__username=username, cell__in=territory.cells().values("pk")
        )
        .select_related("cell__community", "worker")
        .defer("cell__boundary", "cell__community__boundary")
        .order_by("-started", "-pk")
    )
    history = list(history)
    if not history:
        raise Http404(_("No such worker in your territory."))
    return render(
        request, "grid/worker_history.html", {"worker": history[0].worker, "history": history}
    )


@login_required
def staffing_log(request: HttpRequest) -> HttpResponse:
    """Posts and cell assignments ended in the viewer's territory: who ended what, when."""
    territory = _territory_of_reader(request)
    entries = StaffingLog.objects.select_related("actor")
    if not territory.everything:
        entries = entries.filter(
            Q(street__in=territory.streets().values("pk"))
            | Q(district_id__in=territory.district_ids)
        )
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    return render(request, "grid/staffing_log.html", {"page": page})
