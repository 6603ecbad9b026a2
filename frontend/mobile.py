"""The grid workers' phone app under /m/: one installable page over the API.

The page carries what it needs to work offline from the first load (the
worker's cells, the categories); reports and task results go through the
API with a client-generated id, queued on the phone while there is no signal.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from cases.api import category_rows
from grid.models import CellAssignment


def _my_cells(user) -> dict:
    assignments = CellAssignment.objects.current().filter(worker=user).select_related("cell")
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": a.cell.pk,
                "properties": {"code": a.cell.code, "name": a.cell.name},
                "geometry": json.loads(a.cell.boundary.geojson),
            }
            for a in assignments
        ],
    }


@never_cache
@ensure_csrf_cookie
@login_required
def app(request: HttpRequest) -> HttpResponse:
    boot = {
        "user": request.user.get_full_name() or request.user.get_username(),
        "userId": request.user.pk,
        "cells": _my_cells(request.user),
        # The categories API's own rows, for the first load without signal; the app
        # refreshes them from /api/v1/categories/ whenever it can.
        "categories": category_rows(),
    }
    return render(request, "frontend/m/app.html", {"boot": boot})


def manifest(request: HttpRequest) -> JsonResponse:
    data = {
        "name": _("GridCase for grid workers"),
        "short_name": _("GridCase"),
        "start_url": "/m/",
        "scope": "/m/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#b42318",
        "lang": "zh-Hans",
        "icons": [
            {
                "src": static(f"gridcase/m/icon-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
            }
            for size in (192, 512)
        ],
    }
    return JsonResponse(data, content_type="application/manifest+json")


def service_worker(request: HttpRequest) -> HttpResponse:
    # Served from /m/ so its scope covers the app; the file itself is a static asset.
    with open(finders.find("gridcase/m/sw.js"), encoding="utf-8") as f:
        body = f.read().replace(
            "__SHELL__",
            json.dumps(
                [
                    "/m/",
                    static("gridcase/m/app.js"),
                    static("gridcase/m/app.css"),
                    static("gridcase/bell.js"),
                    static("leaflet/leaflet.js"),
                    static("leaflet/leaflet.css"),
                ]
            ),
        )
    response = HttpResponse(body, content_type="application/javascript")
    response["Cache-Control"] = "no-cache"
    return response
