"""The resident's page (/r/): follow one's own case and rate it, without an account.

Nothing here shows a person's name or phone, an internal note or a dispute's
parties: the page speaks of the case in plain words, its deadline and the
photos of the result. Looking a case up by number and code is rate-limited per
address and per number (RESIDENT_LOOKUP_RATE); a wrong code answers exactly as
an unknown number. The signed link (/r/<token>/) needs no code.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from rest_framework.throttling import SimpleRateThrottle

from cases import services
from cases.models import Case, ClosureReason, Satisfaction, State
from cases.services import residents
from core.throttling import SlidingWindowMixin

# What each timeline event means to the resident; events not named here
# (claims, urges, internal moves) are the office's business.
PLAIN_WORDS = {
    "reported": _("Your report was received."),
    "triaged": _("Accepted: the case is open."),
    "rejected": _("Not accepted."),
    "dispatched": _("Sent to those who will handle it."),
    "returned": _("Being passed to the right handler."),
    "handled": _("Handled; waiting for an on-site check."),
    "mediated": _("Mediation reached an agreement."),
    "mediation_failed": _("Mediation did not succeed; passed up a level."),
    "referred": _("Referred to the court's mediation (诉调对接)."),
    "verified": _("Checked on site: done."),
    "verification_failed": _("The on-site check found it not done: being handled again."),
    "reopened": _("Reopened: being handled again."),
    "closed": _("Closed."),
    "resident_rated": _("You rated the outcome."),
    "transferred": _("Passed to the office responsible for the place."),
}


class LookupForm(forms.Form):
    number = forms.CharField(label=_("Case number"), max_length=32)
    code = forms.CharField(label=_("Access code"), max_length=16)


class RatingForm(forms.Form):
    satisfaction = forms.ChoiceField(
        label=_("How satisfied are you?"), choices=Satisfaction.choices, widget=forms.RadioSelect
    )
    words = forms.CharField(
        label=_("Your words (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class _Lookups(SlidingWindowMixin, SimpleRateThrottle):
    """Tries of number and code, counted like the API's requests (core.throttling)."""

    def __init__(self, key: str):
        self.key = key
        super().__init__()

    def get_rate(self) -> str:
        return settings.RESIDENT_LOOKUP_RATE

    def get_cache_key(self, request, view) -> str:
        return f"resident:{self.key}"


def _allowed(request: HttpRequest, number: str) -> bool:
    by_address = _Lookups("ip:" + _Lookups("").get_ident(request))
    by_case = _Lookups("case:" + number.strip()[:32])
    return by_address.allow_request(request, None) and by_case.allow_request(request, None)


@never_cache
def lookup(request: HttpRequest) -> HttpResponse:
    form = LookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        number = form.cleaned_data["number"]
        if not _allowed(request, number):
            form.add_error(None, _("Too many tries. Please try again in an hour, or call us."))
            return render(request, "cases/resident/lookup.html", {"form": form}, status=429)
        case = residents.case_for_code(number, form.cleaned_data["code"])
        if case is not None:
            return redirect("resident:case", token=residents.link_token(case))
        # The same answer for a wrong code and a number that does not exist.
        form.add_error(None, _("No case matches this number and code."))
    status = 400 if request.method == "POST" else 200
    return render(request, "cases/resident/lookup.html", {"form": form}, status=status)


def _case_or_404(token: str) -> Case:
    case = residents.case_for_token(token)
    if case is None:
        raise Http404
    return case


@never_cache
def follow(request: HttpRequest, token: str) -> HttpResponse:
    case = _case_or_404(token)
    form = RatingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            browser_user = request.user if request.user.is_authenticated else None
            services.case_resident_rate(
                number=case.number, browser_user=browser_user, **form.cleaned_data
            )
        except services.ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            # The page then thanks them with their rating (no session messages here:
            # a staff member's own, from the same browser, would show on this page).
            return redirect("resident:case", token=token)
    status = 400 if request.method == "POST" else 200
    return render(request, "cases/resident/case.html", _page(case, token, form), status=status)


def _page(case: Case, token: str, form: RatingForm) -> dict:
    return {
        "case": case,
        "token": token,
        "steps": _progress(case),
        "open": case.state not in (State.CLOSED, State.REJECTED),
        "closure": ClosureReason(case.closure_reason).label if case.closure_reason else "",
        "photos": _photos(case).values_list("pk", flat=True),
        "form": form if residents.may_rate(case) else None,
    }


def _progress(case: Case) -> list[dict]:
    steps = []
    for entry in case.timeline.filter(action__in=PLAIN_WORDS).order_by("seq"):
        words = str(PLAIN_WORDS[entry.action])
        if entry.action in ("rejected", "closed") and case.closure_reason:
            words += " " + str(ClosureReason(case.closure_reason).label)
        steps.append({"at": entry.at, "words": words})
    return steps


def _photos(case: Case):
    return residents.result_photos().filter(case=case)


def photo(request: HttpRequest, token: str, pk: int) -> HttpResponse:
    """A photo of the result; the reporter's own photos are not shown back."""
    found = _photos(_case_or_404(token)).filter(pk=pk).only("file", "content_type").first()
    if found is None:
        raise Http404
    return FileResponse(found.file.open("rb"), content_type=found.content_type)
