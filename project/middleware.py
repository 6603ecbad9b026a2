"""Requests no view can serve are refused at the door with a 400 and a reason."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _


def refuse_nul_characters(get_response):
    """A NUL character in the path, the query or a form field answers 400.

    PostgreSQL text cannot hold NUL, so a lookup by such a value would fail
    inside the database (a 500); forms and serializers already refuse it in
    their own fields, this covers the path and raw parameters.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            # JSON, as the API answers every refusal; a person reads it as well.
            return JsonResponse({"detail": _("The request contains a NUL character.")}, status=400)
        return get_response(request)

    return middleware


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or "\x00" in request.META.get("QUERY_STRING", ""):
        return True
    if any("\x00" in v for values in request.GET.lists() for v in values[1]):
        return True
    # Form fields (Open311 and the HTML forms read them raw); DRF reuses the parsed POST.
    if request.method == "POST" and request.content_type in FORM_TYPES:
        return any("\x00" in v for values in request.POST.lists() for v in values[1])
    return False


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
