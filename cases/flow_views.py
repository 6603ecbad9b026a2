"""The view viewflow's View nodes point at.

GridCase drives every step from its own screens and services, so viewflow's
built-in task URLs are never mounted; this only sends a stray visit there to
the case page.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def step_view(request: HttpRequest, **kwargs) -> HttpResponse:
    task = kwargs.get("task")
    case = getattr(getattr(task, "process", None), "case", None)
    return redirect("cases:detail", number=case.number) if case else redirect("home")
