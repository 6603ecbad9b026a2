"""The work diary's desk pages: search the entries of one's communities, read one.

Every query starts from the viewer's territory (diary.services.visible_entries).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cases.calendar import CHINA
from diary.models import DiaryEntry
from diary.services import visible_entries
from grid.territory import Territory

PAGE = 100


def _day(raw: str, errors: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors.append(_("Give the date as YYYY-MM-DD."))
        return None
    if not 2000 <= day.year <= 2100:  # as the case search: beyond, a day is out of range
        errors.append(_("Choose a date between 2000 and 2100."))
        return None
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def _is_id(raw: str) -> bool:
    """A number a primary key can be: "²" passes isdigit() but not int(), and
    a 30-digit number made SQLite raise."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 18


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """Entries of the viewer's communities, newest visit first, narrowed by the form."""
    territory = Territory.for_user(request.user)
    entries = visible_entries(territory)
    params, errors = request.GET, []
    text = params.get("q", "").strip()[:100]
    if text:
        entries = entries.filter(Q(text__icontains=text) | Q(place__icontains=text))
    community = params.get("community", "")
    if _is_id(community):
        entries = entries.filter(community_id=int(community))
    author = params.get("worker", "")
    if _is_id(author):
        entries = entries.filter(author_id=int(author))
    since, until = _day(params.get("since", ""), errors), _day(params.get("until", ""), errors)
    if since:
        entries = entries.filter(visited_at__gte=since)
    if until:
        entries = entries.filter(visited_at__lt=until + timedelta(days=1))
    rows = list(
        entries.select_related("author", "community")
        .prefetch_related("photos")
        .order_by("-visited_at", "-pk")[:PAGE]
    )
    authors = (
        get_user_model()
        .objects.filter(pk__in=visible_entries(territory).values("author_id"))
        .order_by("username")
    )
    return render(
        request,
        "diary/search.html",
        {
            "rows": rows,
            "errors": errors,
            "q": text,
            "communities": territory.communities().only("pk", "name").order_by("code"),
            "authors": authors,
            "chosen": {"community": community, "worker": author},
            "since": params.get("since", ""),
            "until": params.get("until", ""),
            "page": PAGE,
        },
    )


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    territory = Territory.for_user(request.user)
    entry: DiaryEntry | None = (
        visible_entries(territory)
        .select_related("author", "community", "cell")
        .prefetch_related("photos")
        .filter(pk=pk)
        .first()
    )
    if entry is None:
        raise Http404
    return render(request, "diary/detail.html", {"entry": entry})
