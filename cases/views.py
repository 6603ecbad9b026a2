"""Role screens: triage queue, my tasks, case detail with its actions, and reporting.

Every view starts from the user's territory (services.get_case_for /
queues), and every change goes through one service call. The actions a case
page offers, their forms and their services come from the loop table.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases import forms, loop, queues, services
from cases.models import Case, Category, ClosureReason, State
from cases.search import CappedPaginator, SearchForm
from cases.services import residents
from grid.territory import Territory


def _case_or_404(request: HttpRequest, number: str) -> Case:
    try:
        return services.get_case_for(request.user, number)
    except services.NotFound:
        raise Http404 from None


def _form(action: loop.Action, request: HttpRequest, case: Case, data=None, files=None):
    task = services.open_task(case)
    initial = {"task_id": task.pk if task else None}
    return action.form(data, files, initial=initial, case=case, user=request.user)


@login_required
def case_detail(request: HttpRequest, number: str, bound: dict | None = None) -> HttpResponse:
    case = _case_or_404(request, number)
    task = services.open_task(case)
    can_act = services.can_act(request.user, case)
    actions = []
    if can_act and (task is None or task.owner_id in (None, request.user.pk)):
        for action in loop.offered(case.state):
            form = (bound or {}).get(action.name) or _form(action, request, case)
            actions.append({"name": action.name, "title": action.title, "form": form})
    if case.is_open and task is not None and services.supervises(request.user, case):
        for action in loop.supervision():
            form = (bound or {}).get(action.name) or _form(action, request, case)
            actions.append({"name": action.name, "title": action.title, "form": form})
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
        "supporters": case.supporters.select_related("user", "merged_from"),
        "show_phones": services.shows_party_phones(request.user, case),
        "reporter_phone": services.reporter_phone_for(request.user, case, via="page", acts=can_act),
        "resident_link": request.build_absolute_uri(
            reverse("resident:case", kwargs={"token": residents.link_token(case)})
        )
        if residents.tells_code(request.user, case, acts=can_act)
        else "",
        "photos": case.attachments.filter(content_type__startswith="image/"),
        "timeline": case.timeline.select_related("actor").prefetch_related("attachments"),
        "tile_url": settings.TILE_URL,
        "tile_crs": settings.TILE_CRS,
        "cell_geojson": case.cell.boundary.geojson if case.cell else None,
    }
    return render(request, "cases/detail.html", ctx, status=400 if bound else 200)


@login_required
@require_POST
def case_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """Any action of the loop table, with its form; the service it names does the rest."""
    case = _case_or_404(request, number)
    row = loop.ACTIONS.get(action)
    if row is None:
        raise Http404
    form = _form(row, request, case, request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Please correct the errors below."))
        return case_detail(request, number, bound={action: form})
    try:
        row.function(actor=request.user, number=case.number, **form.cleaned_data)
    except services.ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Done: %(n)s.") % {"n": case.number})
    # Back where the action was taken (the dashboard's overdue list), if that is here.
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("cases:detail", number=case.number)


@login_required
def ownership(request: HttpRequest) -> HttpResponse:
    """For administrators: open cases in their territory that nobody can take now, and why."""
    from cases.services.ownership import stranded
    from grid.models import Role

    if not Territory.for_user(request.user).has_role(Role.ADMINISTRATOR):
        raise PermissionDenied
    return render(request, "cases/ownership.html", {"stranded": stranded(viewer=request.user)})


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """The person's notifications, newest first; POST marks them (or one) read."""
    from cases.services import notifications as notes

    if request.method == "POST":
        form = forms.MarkReadForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest(_("Which notification?"))
        one = form.cleaned_data["id"]
        notes.mark_read(request.user, [one] if one is not None else None)
        return redirect("cases:notifications")
    page = Paginator(notes.mine(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "cases/notifications.html", {"page": page})


SEARCH_PAGE = 50


def _searched(request: HttpRequest) -> tuple[SearchForm, QuerySet[Case] | None]:
    """The search form over the user's territory, and its cases (None if the input is bad)."""
    territory = Territory.for_user(request.user)
    form = SearchForm(request.GET, territory=territory)
    if not form.is_valid():
        return form, None
    cases = services.filtered_cases(request.user, form.filters(), territory=territory)
    return form, form.sorted(cases)


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """Cases of the user's territory, filtered, sorted and counted, a page at a time."""
    form, cases = _searched(request)
    page = None
    if cases is not None:
        rows = cases.select_related("category__parent", "community", "cell", "department")
        # The list shows names: never parse the units' polygons or the point.
        rows = rows.defer("location", "community__boundary", "cell__boundary")
        page = CappedPaginator(rows, SEARCH_PAGE).get_page(request.GET.get("page"))
    ctx = {"form": form, "page": page, "formats": EXPORT_FORMATS}
    return render(request, "cases/search.html", ctx, status=400 if cases is None else 200)


EXPORT_FORMATS = [("xlsx", "Excel"), ("csv", "CSV")]


@login_required
@require_POST
def search_export(request: HttpRequest) -> HttpResponse:
    """Export these: the background export of exactly the cases the search lists."""
    from cases.exports import export_start

    form, cases = _searched(request)
    fmt = request.POST.get("format")
    if cases is None or fmt not in dict(EXPORT_FORMATS):
        messages.error(request, _("Nothing was exported: check the filters and the format."))
        return render(
            request,
            "cases/search.html",
            {"form": form, "page": None, "formats": EXPORT_FORMATS},
            status=400,
        )
    export_start(user=request.user, fmt=fmt, cases=cases, filters=form.chosen())
    messages.success(request, _("The export has started; it is listed below."))
    return redirect("cases:exports")


@login_required
def my_exports(request: HttpRequest) -> HttpResponse:
    """The person's own exports, newest first, with their progress and a download link."""
    from cases.models import Export

    rows = Export.objects.filter(user=request.user).order_by("-created", "-pk")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    busy = any(e.status in (Export.Status.QUEUED, Export.Status.RUNNING) for e in page)
    return render(request, "cases/exports.html", {"page": page, "busy": busy})


@login_required
def notification(request: HttpRequest, pk: int) -> HttpResponse:
    """A digest's cases (those the person may still see), or a single notice's case."""
    from cases.services import notifications as notes

    try:
        note, cases = notes.digest_cases(request.user, pk)
    except services.NotFound:
        raise Http404 from None
    if note.case_id is not None:
        return redirect("cases:detail", number=note.case.number)
    return render(request, "cases/notification.html", {"note": note, "cases": cases})


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    """Which kinds of notification reach me outside the app, on which channel."""
    from cases.models import Contact, NotificationKind
    from cases.services import notifications as notes

    kinds, channels = NotificationKind.choices, notes.channels()
    contact = Contact.objects.filter(user_id=request.user.pk).first()
    initial = {
        "phone": contact.phone if contact else "",
        "wanted": [f"{k}:{c}" for k, c in notes.preferences(request.user)],
    }
    # A POST with every box unticked is empty, and still a choice to save.
    data = request.POST if request.method == "POST" else None
    form = forms.PreferencesForm(data, initial=initial, kinds=kinds, channels=channels)
    if request.method == "POST" and form.is_valid():
        try:
            notes.preferences_set(
                user=request.user, phone=form.cleaned_data["phone"], wanted=form.pairs()
            )
        except services.ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Your notification settings are saved."))
            return redirect("cases:notification-settings")
    chosen = set(form["wanted"].value() or [])
    rows = [
        (label, [(f"{kind}:{channel}", f"{kind}:{channel}" in chosen) for channel, _c in channels])
        for kind, label in kinds
    ]
    ctx = {"form": form, "channels": channels, "rows": rows}
    return render(
        request, "cases/notification_settings.html", ctx, status=400 if form.errors else 200
    )


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
    """The hotline screen. Before a new case is made, open cases of the same category
    within 100 m are offered ("me too"): the dispatcher adds the resident to one as a
    supporter, or reports a new case anyway."""
    form = forms.ReportForm(request.POST or None, request.FILES or None)
    offers: list[Case] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        category = Category.objects.get(code=data["category"])
        point = Point(data["lon"], data["lat"], srid=4326)
        if request.POST.get("support"):
            return _support_from_hotline(request, form, request.POST["support"])
        if not request.POST.get("report_anyway"):
            offers = list(
                services.nearby_open_cases(
                    request.user, category=category, point=point
                ).select_related("category")
            )
        if not offers:
            return _report_from_hotline(request, form, category, point)
    status = 400 if request.method == "POST" and not offers else 200
    ctx = {"form": form, "offers": offers, "tile_url": settings.TILE_URL}
    return render(request, "cases/report.html", ctx, status=status)


def _report_from_hotline(
    request: HttpRequest, form: forms.ReportForm, category: Category, point: Point
) -> HttpResponse:
    data = form.cleaned_data
    try:
        result = services.case_report(
            actor=request.user,
            category=category,
            description=data["description"],
            location=point,
            source=data["source"],
            urgency=data["urgency"],
            major_hazard=data["major_hazard"],
            address=data["address"],
            reporter_name=data["reporter_name"],
            reporter_phone=data["reporter_phone"],
            reporter_consent=data["reporter_consent"],
            parties=form.parties(),
            photos=data["photos"],
        )
    except services.ServiceError as exc:
        return _report_refused(request, form, exc)
    text = _(
        "Case %(n)s reported. Tell the resident the number and the access code "
        "%(code)s: with them they follow the case at %(url)s"
    )
    return _tell_the_resident(request, result.case, text)


def _support_from_hotline(
    request: HttpRequest, form: forms.ReportForm, number: str
) -> HttpResponse:
    """The resident joins an open case as a supporter: their words and photos go to it."""
    data = form.cleaned_data
    try:
        supporter = services.case_support(
            actor=request.user,
            number=number,
            words=data["description"],
            photos=data["photos"],
            reporter_name=data["reporter_name"],
            reporter_phone=data["reporter_phone"],
            source=data["source"],
        )
    except services.ServiceError as exc:
        return _report_refused(request, form, exc)
    text = _(
        "The resident was added to case %(n)s as a supporter. Tell them the number and "
        "the access code %(code)s: with them they follow the case at %(url)s"
    )
    return _tell_the_resident(request, supporter.case, text)


def _report_refused(
    request: HttpRequest, form: forms.ReportForm, exc: services.ServiceError
) -> HttpResponse:
    form.add_error(None, str(exc))
    ctx = {"form": form, "tile_url": settings.TILE_URL}
    return render(request, "cases/report.html", ctx, status=400)


def _tell_the_resident(request: HttpRequest, case: Case, text: str) -> HttpResponse:
    """The hotline screen's answer: what to tell the resident on the phone, then the case."""
    where = request.build_absolute_uri(reverse("resident:lookup"))
    messages.success(request, text % {"n": case.number, "code": case.access_code, "url": where})
    return redirect("cases:detail", number=case.number)


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
