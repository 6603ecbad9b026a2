from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from grid.territory import Territory


@login_required
def home(request: HttpRequest) -> HttpResponse:
    territory = Territory.for_user(request.user)
    ctx = {
        "territory": territory,
        "posts": territory.posts,
        "streets": territory.streets().select_related("district")[:50],
        "communities": territory.communities().select_related("street")[:200],
        "cell_count": territory.cells().count(),
    }
    return render(request, "frontend/home.html", ctx)


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
