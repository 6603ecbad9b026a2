"""Role screens: triage queue, my tasks, case detail with its actions, and reporting.

Every view starts from the user's territory (services.get_case_for /
queues), and every change goes through one service call.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.gis.geos import Point
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cases import forms, queues, services
from cases.models import Category, ClosureReason, State

# What each open state offers the person who may act on it.
STEP_ACTIONS = {
    State.TRIAGE: ["triage", "reject"],
    State.ONSITE: ["handle", "return"],
    State.MEDIATION: ["mediate", "return"],
    State.STREET_DISPATCH: ["dispatch", "reject", "return"],
    State.STREET_MEDIATION: ["mediate", "return"],
    State.DEPARTMENT: ["handle", "return"],
    State.VERIFY: ["verify"],
    State.RETURN_VISIT: ["return_visit"],
}
FORMS = {
    "triage": forms.TriageForm,
    "reject": forms.RejectForm,
    "return": forms.ReturnForm,
    "dispatch": forms.DispatchForm,
    "handle": forms.HandleForm,
    "mediate": forms.MediateForm,
    "verify": forms.VerifyForm,
    "return_visit": forms.ReturnVisitForm,
    "claim": forms.ClaimForm,
    "unclaim": forms.ClaimForm,
}
TITLES = {
    "triage": gettext_lazy("Accept and dispatch"),
    "reject": gettext_lazy("Reject"),
    "return": gettext_lazy("Return (not ours)"),
    "dispatch": gettext_lazy("Dispatch"),
    "handle": gettext_lazy("Report the result"),
    "mediate": gettext_lazy("Record the mediation"),
    "verify": gettext_lazy("Verify on site"),
    "return_visit": gettext_lazy("Return visit"),
}


def _case_or_404(request: HttpRequest, number: str):
    try:
        return services.get_case_for(request.user, number)
    except services.NotFound:
        raise Http404 from None


def _form(action: str, case, data=None, files=None):
    cls = FORMS[action]
    kwargs = {"case": case} if action in ("triage", "dispatch") else {}
    task = services.open_task(case)
    return cls(data, files, initial={"task_id": task.pk if task else None}, **kwargs)


@login_required
def case_detail(request: HttpRequest, number: str, bound: dict | None = None) -> HttpResponse:
    case = _case_or_404(request, number)
    task = services.open_task(case)
    can_act = services.can_act(request.user, case)
    actions = []
    if can_act and (task is None or task.owner_id in (None, request.user.pk)):
        for name in STEP_ACTIONS.get(case.state, []):
            form = (bound or {}).get(name) or _form(name, case)
            actions.append({"name": name, "title": TITLES[name], "form": form})
    duplicates = []
    if case.state == State.TRIAGE and can_act:
        nearby = services.find_duplicates(case, viewer=request.user)
        duplicates = list(nearby.select_related("category"))
    ctx = {
        "case": case,
        "task": task,
        "can_act": can_act,
        "claimed_by_me": bool(task and task.owner_id == request.user.pk),
        "actions": actions,
        "duplicates": duplicates,
        "parties": case.parties.all(),
        "show_phones": services.shows_party_phones(request.user, case),
        "photos": case.attachments.filter(content_type__startswith="image/"),
        "timeline": case.timeline.select_related("actor").prefetch_related("attachments"),
        "tile_url": settings.TILE_URL,
        "tile_crs": settings.TILE_CRS,
        "cell_geojson": case.cell.boundary.geojson if case.cell else None,
    }
    return render(request, "cases/detail.html", ctx, status=400 if bound else 200)


def _call(action: str, request: HttpRequest, case, data: dict):
    """Run the service behind an action with the form's cleaned data."""
    common = {"actor": request.user, "number": case.number, "task_id": data.get("task_id")}
    if action == "triage":
        category = Category.objects.filter(code=data.get("category")).first()
        return services.case_triage(
            route=data["route"],
            category=category,
            urgency=data["urgency"],
            note=data["note"],
            **common,
        )
    if action == "reject":
        return services.case_reject(
            reason=data["reason"],
            note=data["note"],
            duplicate_of=data["duplicate_of"] or None,
            **common,
        )
    if action == "return":
        return services.case_return(reason=data["reason"], **common)
    if action == "dispatch":
        return services.case_dispatch(
            department=data["department"],
            to_mediation=data["to_mediation"],
            note=data["note"],
            **common,
        )
    if action == "handle":
        return services.case_handle(result=data["result"], photos=data["photos"], **common)
    if action == "mediate":
        return services.case_mediate(
            success=data["outcome"] == "success", note=data["note"], **common
        )
    if action == "verify":
        return services.case_verify(
            passed=data["outcome"] == "passed", note=data["note"], photos=data["photos"], **common
        )
    if action == "return_visit":
        return services.case_return_visit(
            satisfaction=data["satisfaction"], words=data["words"], reopen=data["reopen"], **common
        )
    if action == "claim":
        return services.task_claim(**common)
    return services.task_unclaim(**common)


@login_required
@require_POST
def case_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    case = _case_or_404(request, number)
    if action not in FORMS:
        raise Http404
    form = _form(action, case, request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Please correct the errors below."))
        return case_detail(request, number, bound={action: form})
    try:
        _call(action, request, case, form.cleaned_data)
    except services.ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Done: %(n)s.") % {"n": case.number})
    return redirect("cases:detail", number=case.number)


@login_required
def my_tasks(request: HttpRequest) -> HttpResponse:
    page = Paginator(queues.my_tasks(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "cases/tasks.html", {"page": page, "me": request.user.pk})


@login_required
def triage_queue(request: HttpRequest) -> HttpResponse:
    page = Paginator(queues.triage_queue(request.user), 50).get_page(request.GET.get("page"))
    bulk = forms.BulkForm(numbers=[c.number for c in page])
    return render(request, "cases/triage.html", {"page": page, "bulk": bulk})


@login_required
@require_POST
def triage_bulk(request: HttpRequest) -> HttpResponse:
    numbers = list(queues.triage_queue(request.user).values_list("number", flat=True)[:500])
    form = forms.BulkForm(request.POST, numbers=numbers)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(
                request,
                f"{form.fields[field].label if field in form.fields else ''} "
                f"{' '.join(errors)}".strip(),
            )
        return redirect("cases:triage")
    data = form.cleaned_data
    done, refused = [], []
    # Each case is its own transaction: one refusal does not undo the others.
    for number in data["numbers"]:
        try:
            if data["action"] == "dispatch":
                services.case_triage(
                    actor=request.user, number=number, route=data["route"], note=data["note"]
                )
            else:
                merge = data["action"] == "merge"
                services.case_reject(
                    actor=request.user,
                    number=number,
                    reason=ClosureReason.DUPLICATE if merge else data["reason"],
                    duplicate_of=data["duplicate_of"] if merge else None,
                    note=data["note"],
                )
            done.append(number)
        except services.ServiceError as exc:
            refused.append(f"{number}: {exc}")
    if done:
        messages.success(request, _("Done: %(numbers)s.") % {"numbers": ", ".join(done)})
    for reason in refused:
        messages.error(request, reason)
    return redirect("cases:triage")


@login_required
def report(request: HttpRequest) -> HttpResponse:
    form = forms.ReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.case_report(
                actor=request.user,
                category=Category.objects.get(code=data["category"]),
                description=data["description"],
                location=Point(data["lon"], data["lat"], srid=4326),
                source=data["source"],
                urgency=data["urgency"],
                major_hazard=data["major_hazard"],
                address=data["address"],
                reporter_name=data["reporter_name"],
                reporter_phone=data["reporter_phone"],
                parties=form.parties(),
                photos=data["photos"],
            )
        except services.ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Case %(n)s reported.") % {"n": result.case.number})
            return redirect("cases:detail", number=result.case.number)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "cases/report.html", {"form": form, "tile_url": settings.TILE_URL}, status=status
    )


@login_required
def media(request: HttpRequest, path: str) -> HttpResponse:
    """An uploaded photo, only for people who may see its case (or their own export).

    Case photos are personal data: they are never served as public static files.
    """
    from django.http import FileResponse

    from cases.models import Attachment, Export

    attachment = (
        Attachment.objects.filter(file=path, case__in=services.visible_cases(request.user))
        .only("file", "content_type")
        .first()
    )
    if attachment is not None:
        return FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    export = Export.objects.filter(file=path, user=request.user).first()
    if export is not None:
        return FileResponse(export.file.open("rb"), as_attachment=True)
    raise Http404
