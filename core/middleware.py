"""Requests no view can serve are refused at the door with a 400 and a reason."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _


def refuse_nul_characters(get_response):
    """A NUL character in the path or the query answers 400.

    PostgreSQL text cannot hold NUL, so a lookup by such a value would fail
    inside the database (a 500); forms and serializers already refuse it in
    their own fields, this covers the path and the query's parameters.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            # JSON, as the API answers every refusal; a person reads it as well.
            return JsonResponse({"detail": _("The request contains a NUL character.")}, status=400)
        return get_response(request)

    return middleware


def _has_nul(request: HttpRequest) -> bool:
    # Bodies are left to their readers (forms and serializers refuse NUL in a
    # field; Open311 checks its form): parsing every body here would spool the
    # uploads of anonymous clients and unknown URLs before anything is checked.
    if "\x00" in request.path or "\x00" in request.META.get("QUERY_STRING", ""):
        return True
    return has_nul_field(request.GET)


def has_nul_field(data) -> bool:
    """Does a QueryDict (a form read raw, not through a Form) hold a NUL character?"""
    return any("\x00" in v for values in data.lists() for v in values[1])
