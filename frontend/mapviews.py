"""The street leader's live map: a page and the JSON it loads.

Each handler starts from the user's territory (cases.mapdata and
services.visible_cases); anything outside it is a 404.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cases import mapdata, services
from cases.metrics import metrics
from cases.models import Category, State, Urgency
from grid import coordinates
from grid.models import CellAssignment
from grid.territory import Territory


def _bbox(request: HttpRequest) -> tuple[float, float, float, float] | None:
    """The view's bbox, None when none is given; a malformed one raises CoordinateError."""
    raw = request.GET.get("bbox", "")
    return coordinates.bbox(raw) if raw else None


@login_required
def live_map(request: HttpRequest) -> HttpResponse:
    territory = Territory.for_user(request.user)
    if not (territory.everything or territory.roles):
        raise Http404
    ctx = {
        "categories": Category.objects.filter(parent__isnull=True, active=True),
        "urgencies": Urgency.choices,
        "states": [(s, label) for s, label in State.choices if s in mapdata.OPEN_STATES],
        "communities": territory.communities().only("pk", "name"),
        "map_config": {
            "tileUrl": settings.TILE_URL,
            "tileAttribution": settings.TILE_ATTRIBUTION,
            "tileCrs": settings.TILE_CRS,
            "maxMarkers": mapdata.MAX_MARKERS,
        },
    }
    return render(request, "frontend/map.html", ctx)


@login_required
@require_GET
def map_boundaries(request: HttpRequest) -> JsonResponse:
    return JsonResponse(mapdata.boundaries(request.user))


def _in_view(request: HttpRequest, shapes) -> JsonResponse:
    """`shapes(user, bbox)` for the request's required bbox, or 400 with the reason."""
    try:
        bbox = _bbox(request)
    except coordinates.CoordinateError as error:
        return JsonResponse({"error": str(error)}, status=400)
    if bbox is None:
        return JsonResponse({"error": "bbox=west,south,east,north is required"}, status=400)
    return JsonResponse(shapes(request.user, bbox))


@login_required
@require_GET
def map_cells(request: HttpRequest) -> JsonResponse:
    return _in_view(request, mapdata.cells_in_view)


@login_required
@require_GET
def map_communities(request: HttpRequest) -> JsonResponse:
    return _in_view(request, mapdata.communities_in_view)


@login_required
@require_GET
def map_snapshot(request: HttpRequest) -> JsonResponse:
    filters = mapdata.Filters.from_query(request.GET)
    try:
        bbox = _bbox(request)
    except coordinates.CoordinateError as error:
        return JsonResponse({"error": str(error)}, status=400)
    # cells=0: the map draws no cells at this zoom (a city), so it needs no cell counts.
    with_cells = request.GET.get("cells") != "0"
    return JsonResponse(mapdata.snapshot(request.user, filters, bbox, with_cells=with_cells))


@login_required
@require_GET
def map_stats(request: HttpRequest) -> JsonResponse:
    return JsonResponse(mapdata.stats(request.user))


@login_required
@require_GET
def map_case(request: HttpRequest, number: str) -> JsonResponse:
    try:
        case = services.get_case_for(request.user, number)
    except services.NotFound:
        raise Http404 from None
    task = services.open_task(case)
    timeline = case.timeline.select_related("actor").order_by("seq")
    return JsonResponse(
        {
            **mapdata.marker(case),
            "description": case.description,
            "address": case.address,
            "category_name": case.category.display_name,
            "state_label": case.get_state_display(),
            "urgency_label": case.get_urgency_display(),
            "deadline_label": case.get_deadline_state_display(),
            "step_due": case.step_due.isoformat() if case.step_due else None,
            "reported_at": case.reported_at.isoformat(),
            "supporters": case.supporter_count,
            "handler": _name(task.owner) if task and task.owner else None,
            "photos": [
                a.file.url for a in case.attachments.all() if a.content_type.startswith("image/")
            ],
            "timeline": [
                {
                    "at": e.at.isoformat(),
                    "actor": _name(e.actor),
                    "action": e.action,
                    "label": e.action_label,
                    "from": e.from_state,
                    "to": e.to_state,
                    "note": e.note,
                }
                for e in timeline
            ],
        }
    )


@login_required
@require_GET
def map_cell(request: HttpRequest, pk: int) -> JsonResponse:
    territory = Territory.for_user(request.user)
    cell = territory.cells().filter(pk=pk).select_related("community").first()
    if cell is None:
        raise Http404
    now = timezone.now()
    cases = services.visible_cases(request.user).filter(cell=cell)
    unit = metrics(cases, start=now - timedelta(days=30), end=now, group="cell").get(cell.pk)
    workers = CellAssignment.objects.current().filter(cell=cell).select_related("worker")
    open_cases = cases.filter(state__in=mapdata.OPEN_STATES)
    return JsonResponse(
        {
            "code": cell.code,
            "name": cell.name,
            "community": cell.community.name,
            "households": cell.households,
            "workers": [_name(a.worker) for a in workers],
            "open": open_cases.count(),
            "overdue": open_cases.filter(deadline_state="red").count(),
            "rates": mapdata.rates(unit) if unit else None,
        }
    )


def _name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()
