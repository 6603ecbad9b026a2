"""The leader's patrol screens: the live map's patrol layer and the per-worker table.

Each view starts from the viewer's Territory (patrols.figures).
"""

from __future__ import annotations

import csv
from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from cases.calendar import CHINA
from cases.exports import csv_safe
from frontend.dashboard import PERIOD_KINDS, BadRequest, _period, may_watch
from grid.territory import Territory
from patrols import figures


@login_required
@require_GET
def map_patrols(request: HttpRequest) -> JsonResponse:
    """GET /map/patrols.json?date=yyyy-mm-dd: the day's patrols (today in China by default)."""
    territory = Territory.for_user(request.user)
    if not (territory.everything or territory.roles):
        raise Http404
    raw = request.GET.get("date", "")
    try:
        day = date.fromisoformat(raw) if raw else timezone.now().astimezone(CHINA).date()
    except ValueError:
        return JsonResponse({"error": _("Give the date as YYYY-MM-DD.")}, status=400)
    if not 2000 <= day.year <= 2100:  # as the case search: beyond, a day is out of range
        return JsonResponse({"error": _("Choose a date between 2000 and 2100.")}, status=400)
    # Names as they are, not \u-escaped: smaller, and what a reader (or a test) searches for.
    return JsonResponse(
        figures.day_layer(territory, day), json_dumps_params={"ensure_ascii": False}
    )


COLUMNS = [
    ("name", gettext_lazy("Worker")),
    ("patrols", gettext_lazy("Patrols")),
    ("length_km", gettext_lazy("Length (km)")),
    ("hours", gettext_lazy("Time on patrol (h)")),
    ("cells", gettext_lazy("Cells covered")),
    ("check_ins", gettext_lazy("Key-place check-ins")),
    ("cases_found", gettext_lazy("Cases found")),
    ("handled_on_site", gettext_lazy("Handled on site")),
    ("handled_on_time", gettext_lazy("Handled on time")),
]


def _columns() -> list[tuple[str, str]]:
    return [(key, str(label)) for key, label in COLUMNS]


@login_required
@require_GET
def workers(request: HttpRequest) -> HttpResponse:
    """The per-worker table for a week or a month, as a page or (?format=csv) a file."""
    territory = Territory.for_user(request.user)
    if not may_watch(territory):
        raise PermissionDenied
    try:
        period = _period(request)
    except BadRequest as exc:
        return HttpResponseBadRequest(str(exc))
    rows = figures.worker_table(territory, period.start, period.end)
    totals = {
        "patrols": sum(r.patrols for r in rows),
        "length_km": round(sum(r.length_m for r in rows) / 1000, 2),
        "hours": round(sum(r.duration_s for r in rows) / 3600, 1),
        "check_ins": sum(r.check_ins for r in rows),
        "cases_found": sum(r.cases_found for r in rows),
        "handled_on_site": sum(r.handled_on_site for r in rows),
        "handled_on_time": sum(r.handled_on_time for r in rows),
    }
    if request.GET.get("format") == "csv":
        return _csv(rows, totals, period)
    return render(
        request,
        "patrols/workers.html",
        {
            "rows": rows,
            "totals": totals,
            "period": period,
            "previous": period.shifted(-1),
            "next": period.shifted(1),
            "kinds": list(PERIOD_KINDS.items()),
            "columns": _columns(),
        },
    )


def _csv(rows, totals, period) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"patrols-{period.kind}-{period.first.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write("\ufeff")  # so Excel opens Chinese text as UTF-8
    writer = csv.writer(response)
    columns = _columns()
    writer.writerow([label for _key, label in columns])
    for row in rows:
        # A name like "=HYPERLINK(…)" must stay text in a spreadsheet.
        writer.writerow([csv_safe(getattr(row, key)) for key, _label in columns])
    writer.writerow([_("Total")] + [totals.get(key, "") for key, _label in columns[1:]])
    return response
