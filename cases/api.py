"""REST API for cases under /api/v1/: report, list, detail and every transition.

Handlers start from the caller's territory (services.visible_cases /
get_case_for) and call one service each; a ServiceError becomes a 400 with
its message, a case outside the territory a 404. Each action of the loop
table (cases.loop) is an operation of its own, validated by its form.
"""

from __future__ import annotations

from django import forms as django_forms
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from cases import api_schema as doc
from cases import forms, loop, reference, services, signals
from cases.metrics import GROUP_CHOICES
from cases.models import (
    Attachment,
    Case,
    Category,
    Source,
    State,
    Supporter,
    Urgency,
)
from cases.services.photos import PHOTO_TYPES
from cases.services.residents import link_token, tells_code
from grid.territory import Territory

PARSERS = [JSONParser, MultiPartParser, FormParser]
MAX_PAGE = 500


class PartySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)


@extend_schema_field(OpenApiTypes.STR)
class CategoryCodeField(serializers.Field):
    """A reportable category by its code, read from the per-process reference cache."""

    def to_internal_value(self, data) -> Category:
        if not isinstance(data, str | int):
            raise ValidationError(_("A category code is a string."))
        code = str(data).strip()
        category = reference.reportable_category(code)
        if category is None:
            raise ValidationError(
                _("No active category of the second level has the code %(code)s.") % {"code": code}
            )
        return category

    def to_representation(self, value) -> str:
        return value.code


class ReportSerializer(serializers.Serializer):
    category = CategoryCodeField()
    description = serializers.CharField(max_length=4000)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    urgency = serializers.ChoiceField(Urgency.choices, default=Urgency.GENERAL)
    major_hazard = serializers.BooleanField(default=False)
    source = serializers.ChoiceField(Source.choices, default=Source.API)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    reporter_name = serializers.CharField(max_length=60, required=False, allow_blank=True)
    reporter_phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    reporter_consent = serializers.BooleanField(
        default=False, help_text="the resident agreed to be called back on this number"
    )
    parties = PartySerializer(many=True, required=False)
    parties_json = serializers.JSONField(
        required=False, help_text="parties as a JSON list, for multipart requests"
    )
    client_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    photos = serializers.ListField(child=serializers.FileField(), required=False)
    patrol = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="the client id of the patrol this case was logged on",
    )


def case_summary(case: Case) -> dict:
    """The case's public fields; each code has a label in the caller's language beside it."""
    return {
        "number": case.number,
        "state": case.state,
        "state_label": case.get_state_display(),
        "category": case.category.code,
        "category_name": case.category.display_name,
        "urgency": case.urgency,
        "urgency_label": case.get_urgency_display(),
        "major_hazard": case.major_hazard,
        "description": case.description,
        "location": {"type": "Point", "coordinates": [case.location.x, case.location.y]},
        "street": case.street.code,
        "community": case.community.code if case.community else None,
        "cell": case.cell.code if case.cell else None,
        "deadline": case.deadline_state,
        "deadline_label": case.get_deadline_state_display(),
        "step_due": case.step_due,
        "reported_at": case.reported_at,
        "closed_at": case.closed_at,
        "closure_reason": case.closure_reason,
        "satisfaction": case.satisfaction,
        "supporters": case.supporter_count,
    }


def territory_of(request: Request) -> Territory:
    """The caller's territory, computed once per request."""
    if not hasattr(request, "_territory"):
        request._territory = Territory.for_user(request.user)
    return request._territory


def case_detail(case: Case, request: Request, known: services.ReportResult | None = None) -> dict:
    """The case as the caller may see it; `known` is a new report's rows, not read again."""
    user, territory = request.user, territory_of(request)
    if known is not None and known.timeline is not None:
        task_id, parties, timeline = known.task_id, known.parties, known.timeline
    else:
        task = services.open_task(case)
        task_id = task.pk if task else None
        parties = case.parties.all()
        timeline = case.timeline.select_related("actor").order_by("seq")
    if known is not None and known.attachments is not None:
        photos = known.attachments
    else:
        photos = case.attachments.select_related("entry", "uploaded_by").order_by("uploaded", "pk")
    acts = services.can_act(user, case, territory=territory)
    phones = services.shows_party_phones(user, case, acts=acts, territory=territory)
    return {
        **case_summary(case),
        "task_id": task_id,
        "can_act": acts,
        "reporter": {
            "name": case.reporter_name,
            "phone": services.reporter_phone_for(user, case, via="api", acts=acts),
            "consent": case.reporter_consent,
        },
        # What the resident is told, so whoever answers their call can tell it again.
        **_resident_access(case, request, acts),
        "parties": [{"name": p.name, **({"phone": p.phone} if phones else {})} for p in parties],
        "timeline": [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor.get_username() if e.actor else None,
                "actor_name": _person(e.actor),
                "action": e.action,
                "action_label": e.action_label,
                "from": e.from_state,
                "to": e.to_state,
                "note": e.note,
            }
            for e in timeline
        ],
        "photos": [photo_item(case, a, request) for a in photos],
    }


def _person(user) -> str | None:
    return (user.get_full_name() or user.get_username()) if user else None


# Which side of the work a photo shows, by the step that brought it.
PHOTO_STAGES = {
    "reported": "before",
    "merged": "before",
    "handled": "after",
    "mediated": "after",
    "verified": "check",
    "verification_failed": "check",
}
PHOTO_STAGE_LABELS = {
    "before": gettext_lazy("As reported"),
    "after": gettext_lazy("After handling"),
    "check": gettext_lazy("At verification"),
    "other": gettext_lazy("Other"),
}


def photo_item(case: Case, attachment: Attachment, request: Request) -> dict:
    """A photo as the API lists it: what it shows, who took it at which step, and where
    to load it (an API URL, so a token works as well as the phone's session)."""
    entry = attachment.entry
    stage = PHOTO_STAGES.get(entry.action, "other") if entry else "before"
    return {
        "id": attachment.pk,
        "url": request.build_absolute_uri(
            reverse("api-case-photo", args=[case.number, attachment.pk])
        ),
        "content_type": attachment.content_type,
        "stage": stage,
        "stage_label": str(PHOTO_STAGE_LABELS[stage]),
        "step": entry.action if entry else None,
        "step_label": entry.action_label if entry else None,
        "by": _person(attachment.uploaded_by),
        "at": attachment.uploaded,
    }


def _resident_access(case: Case, request: Request, acts: bool) -> dict:
    if not tells_code(request.user, case, acts=acts):
        return {"access_code": "", "resident_url": None}
    url = reverse("resident:case", kwargs={"token": link_token(case)})
    return {"access_code": case.access_code, "resident_url": request.build_absolute_uri(url)}


class ListFilters(serializers.Serializer):
    state = serializers.ChoiceField(State.choices, required=False)
    category = serializers.CharField(
        max_length=8, required=False, help_text="a group's or a kind's code"
    )
    urgency = serializers.ChoiceField(Urgency.choices, required=False)
    community = serializers.CharField(max_length=12, required=False)
    cell = serializers.CharField(max_length=15, required=False)
    department = serializers.IntegerField(required=False, min_value=1)
    source = serializers.ChoiceField(Source.choices, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    overdue = serializers.BooleanField(required=False, help_text="open and past the deadline")
    due_soon = serializers.BooleanField(required=False, help_text="open and near the deadline")
    # allow_null: a yes/no filter left out of a query string is no filter, not "no".
    supervised = serializers.BooleanField(required=False, allow_null=True, help_text="urged (督办)")
    reopened = serializers.BooleanField(required=False, allow_null=True)
    q = serializers.CharField(
        max_length=100, required=False, help_text="text in the number, description or address"
    )
    mine = serializers.BooleanField(required=False, help_text="only cases I reported")
    cursor = serializers.IntegerField(required=False, min_value=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=100)


def _filtered(request: Request, f: dict):
    """The caller's cases narrowed by validated ListFilters (services.filtered_cases)."""
    deadline = "overdue" if f.get("overdue") else "due_soon" if f.get("due_soon") else None
    filters = services.CaseFilters(
        **{k: f[k] for k in FILTER_FIELDS if k in f},
        deadline=deadline,
        mine=f.get("mine", False),
        text=f.get("q", ""),
    )
    return services.filtered_cases(
        request.user, filters, territory=territory_of(request)
    ).select_related("category", "street", "community", "cell")


# ListFilters' fields that pass to CaseFilters unchanged.
FILTER_FIELDS = (
    "state", "category", "urgency", "community", "cell", "department", "source", "since",
    "until", "supervised", "reopened",
)  # fmt: skip


def _case_list(request: Request) -> Response:
    """Newest first, by a cursor on the primary key: stable while cases keep arriving."""
    params = ListFilters(data=request.query_params)
    params.is_valid(raise_exception=True)
    f = params.validated_data
    qs = _filtered(request, f)
    if "cursor" in f:
        qs = qs.filter(pk__lt=f["cursor"])
    page = list(qs.order_by("-pk")[: f["limit"] + 1])
    more = len(page) > f["limit"]
    page = page[: f["limit"]]
    return Response(
        {
            "results": [case_summary(c) for c in page],
            "next_cursor": page[-1].pk if more else None,
        }
    )


def category_rows() -> list[dict]:
    """The active categories as the API lists them (the phone's page carries the same rows,
    so it knows offline which kinds are disputes and which may be major hazards)."""
    rows = Category.objects.filter(active=True).select_related("parent").order_by("code")
    return [
        {
            "code": c.code,
            "name": c.name,
            "name_en": c.name_en,
            "label": c.display_name,
            "group": c.parent.code if c.parent else None,
            "dispute": c.is_dispute,
            "hazard": c.is_hazard,
        }
        for c in rows
    ]


@extend_schema(operation_id="categories", responses=doc.answers({200: doc.CategoryRow(many=True)}))
@api_view(["GET"])
def categories(request: Request) -> Response:
    return Response(category_rows())


@extend_schema(operation_id="my_tasks", responses=doc.answers({200: doc.Task(many=True)}))
@api_view(["GET"])
def tasks(request: Request) -> Response:
    from cases.queues import my_tasks

    rows = my_tasks(request.user)[:MAX_PAGE]
    return Response(
        [
            case_summary(c) | {"task_id": c.task_id, "claimed_by_me": c.task_owner_id is not None}
            for c in rows
        ]
    )


class MetricsParams(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    group = serializers.ChoiceField(GROUP_CHOICES, default="street")


@extend_schema(
    operation_id="metrics", parameters=[MetricsParams], responses=doc.answers({200: doc.Metrics})
)
@api_view(["GET"])
def metrics_view(request: Request) -> Response:
    from cases.metrics import metrics, unit_rows

    params = MetricsParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    p = params.validated_data
    if p["end"] <= p["start"]:
        raise ValidationError({"end": "end must be after start."})
    units = metrics(
        services.visible_cases(request.user), start=p["start"], end=p["end"], group=p["group"]
    )
    return Response({"group": p["group"], "units": unit_rows(p["group"], units)})


def _case_or_404(request: Request, number: str) -> Case:
    try:
        return services.get_case_for(request.user, number, territory=territory_of(request))
    except services.NotFound as exc:
        raise NotFound(str(exc)) from None


@extend_schema(
    methods=["GET"],
    operation_id="cases_list",
    responses=doc.answers({200: doc.CasePage}),
    parameters=[ListFilters],
)
@extend_schema(
    methods=["POST"],
    operation_id="cases_report",
    request=ReportSerializer,
    responses=doc.answers({201: doc.Reported, 200: doc.Reported}),
    description="Report a case. A client_id already used returns the first case with 200.",
)
@api_view(["GET", "POST"])
@parser_classes(PARSERS)
def cases(request: Request) -> Response:
    if request.method == "GET":
        return _case_list(request)
    serializer = ReportSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = dict(serializer.validated_data)
    photos = data.pop("photos", []) or request.FILES.getlist("photos")
    if "parties_json" in data:
        extra = PartySerializer(data=data.pop("parties_json"), many=True)
        extra.is_valid(raise_exception=True)
        data["parties"] = list(data.get("parties", [])) + list(extra.validated_data)
    point = Point(data.pop("lon"), data.pop("lat"), srid=4326)
    links = {"patrol": patrol} if (patrol := data.pop("patrol", "")) else {}
    try:
        if links:
            signals.report_checking.send(Case, actor=request.user, links=links)
        result = services.case_report(
            actor=request.user,
            location=point,
            photos=photos,
            client_id=data.pop("client_id", None) or None,
            territory=territory_of(request),
            **data,
        )
    except services.ServiceError as exc:
        raise ValidationError({"detail": str(exc)}) from None
    except DjangoValidationError as exc:
        raise ValidationError({"detail": exc.messages[0]}) from None
    if links:
        # Either order of arrival links the report and its patrol (patrols.services).
        signals.report_logged.send(Case, case=result.case, links=links)
    body = case_detail(result.case, request, known=result) | {"created": result.created}
    return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


@extend_schema(operation_id="cases_detail", responses=doc.answers({200: doc.CaseDetail}))
@api_view(["GET"])
def case(request: Request, number: str) -> Response:
    return Response(case_detail(_case_or_404(request, number), request))


@extend_schema(
    operation_id="cases_photo",
    responses=doc.answers({(200, mime): OpenApiTypes.BINARY for mime in PHOTO_TYPES.values()}),
)
@api_view(["GET"])
def case_photo(request: Request, number: str, pk: int):
    """One photo of a case the caller may see (token or session)."""
    from django.http import FileResponse

    attachment = _case_or_404(request, number).attachments.filter(pk=pk).first()
    if attachment is None:
        raise NotFound(_("This case has no such photo."))
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    response["Cache-Control"] = "private, max-age=86400"
    return response


class NearbyParams(serializers.Serializer):
    category = CategoryCodeField()
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)


@extend_schema(
    operation_id="cases_nearby",
    parameters=[NearbyParams],
    responses=doc.answers({200: doc.NearbyCase(many=True)}),
    description="Open cases of the category within 100 m from the last 7 days that the "
    "caller may see, nearest first: offer them before a report (me too).",
)
@api_view(["GET"])
def nearby(request: Request) -> Response:
    params = NearbyParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    p = params.validated_data
    rows = services.nearby_open_cases(
        request.user,
        category=p["category"],
        point=Point(p["lon"], p["lat"], srid=4326),
        territory=territory_of(request),
    ).select_related("category")
    return Response([nearby_item(c) for c in rows])


def nearby_item(case: Case) -> dict:
    """A case offered for "me too", with its distance from the reporter's point."""
    return {
        "number": case.number,
        "category": case.category.code,
        "category_name": case.category.display_name,
        "state_label": case.get_state_display(),
        "description": case.description[:200],
        "distance_m": round(case.distance.m),
        "reported_at": case.reported_at,
        "supporters": case.supporter_count,
    }


class SupportSerializer(serializers.Serializer):
    words = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    description = serializers.CharField(
        max_length=4000, required=False, allow_blank=True, help_text="the same as words"
    )
    source = serializers.ChoiceField(Source.choices, default=Source.API)
    reporter_name = serializers.CharField(max_length=60, required=False, allow_blank=True)
    reporter_phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    client_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    photos = serializers.ListField(child=serializers.FileField(), required=False)


@extend_schema(
    operation_id="cases_support",
    request=SupportSerializer,
    responses=doc.answers({201: doc.Supported, 200: doc.Supported}),
    description="Me too: join an open case as a supporter (the caller, or the resident "
    "named) instead of reporting it again. A client_id already used returns 200.",
)
@api_view(["POST"])
@parser_classes(PARSERS)
def support(request: Request, number: str) -> Response:
    case = _case_or_404(request, number)
    serializer = SupportSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    client_id = data.get("client_id") or None
    earlier = bool(client_id) and Supporter.objects.filter(client_id=client_id).exists()
    try:
        supporter = services.case_support(
            actor=request.user,
            number=case.number,
            words=data.get("words") or data.get("description") or "",
            photos=data.get("photos") or request.FILES.getlist("photos"),
            reporter_name=data.get("reporter_name", ""),
            reporter_phone=data.get("reporter_phone", ""),
            source=data["source"],
            client_id=client_id,
            territory=territory_of(request),
        )
    except services.ServiceError as exc:
        raise ValidationError({"detail": str(exc)}) from None
    supported = supporter.case
    supported.refresh_from_db(fields=["supporter_count"])
    body = {
        "number": supported.number,
        "supporters": supported.supporter_count,
        "access_code": supported.access_code,
        "created": not earlier,
    }
    return Response(body, status=status.HTTP_200_OK if earlier else status.HTTP_201_CREATED)


def input_serializer(action: loop.Action) -> type[serializers.Serializer]:
    """The action's form, described for the OpenAPI schema (the form itself validates)."""
    fields: dict[str, serializers.Field] = {}
    for name, field in action.form.base_fields.items():
        fields[name] = _schema_field(field)
    return type(f"{action.name.title().replace('_', '')}Input", (serializers.Serializer,), fields)


def _schema_field(field: django_forms.Field) -> serializers.Field:
    common = {"required": field.required, "help_text": str(field.help_text or field.label or "")}
    if isinstance(field, forms.PhotosField):
        return serializers.ListField(child=serializers.FileField(), **common)
    if isinstance(field, forms.YesNoField | django_forms.BooleanField):
        return serializers.BooleanField(**common)
    if isinstance(field, django_forms.ModelChoiceField) and field.to_field_name:
        return serializers.CharField(**common)
    if isinstance(field, django_forms.ModelChoiceField | django_forms.IntegerField):
        return serializers.IntegerField(**common)
    if isinstance(field, django_forms.DateTimeField):
        return serializers.DateTimeField(**common)
    if isinstance(field, django_forms.ChoiceField) and field.choices:
        return serializers.ChoiceField(list(field.choices), **common)
    max_length = getattr(field, "max_length", None)
    return serializers.CharField(allow_blank=not field.required, max_length=max_length, **common)


def _run_action(request: Request, number: str, action: loop.Action) -> Response:
    case = _case_or_404(request, number)
    data = request.data if hasattr(request.data, "getlist") else _as_form_data(request.data, action)
    form = action.form(data, request.FILES, case=case, user=request.user)
    if not form.is_valid():
        errors = {name: list(messages) for name, messages in form.errors.items()}
        if "__all__" in errors:
            errors["detail"] = " ".join(errors.pop("__all__"))
        raise ValidationError(errors)
    try:
        action.function(actor=request.user, number=number, **form.cleaned_data)
    except services.NotFound as exc:
        raise NotFound(str(exc)) from None
    except services.ServiceError as exc:
        raise ValidationError({"detail": str(exc)}) from None
    try:
        return Response(
            case_detail(
                services.get_case_for(request.user, number, territory=territory_of(request)),
                request,
            )
        )
    except services.NotFound:
        # The step handed the case out of the caller's territory (a department returned it).
        return Response({"number": number, "visible": False})


def _as_form_data(data: object, action: loop.Action) -> dict:
    """A JSON object's values as a form reads them: one value a field, as text."""
    if not isinstance(data, dict):
        raise ValidationError({"detail": _("Send the fields as a JSON object or a form.")})
    values, errors = {}, {}
    for name, value in data.items():
        field = action.form.base_fields.get(name)
        if field is None or value is None:
            continue
        if isinstance(value, list | dict):
            errors[name] = [_("One value, not a list or an object.")]
        elif isinstance(value, bool) or isinstance(field, django_forms.BooleanField):
            values[name] = value  # yes/no fields read JSON booleans themselves
        else:
            values[name] = str(value)
    if errors:
        raise ValidationError(errors)
    return values


def action_view(action: loop.Action):
    """The API operation of one action of the loop table: POST /cases/<number>/<slug>/."""

    @extend_schema(
        operation_id=f"cases_{action.name}",
        request=input_serializer(action),
        responses=doc.answers({200: doc.StepResult}),
        description=f"{action.title} ({action.name}). "
        + ("Send task_id to refuse a stale submission." if action.moves else ""),
    )
    @api_view(["POST"])
    @parser_classes(PARSERS)
    def view(request: Request, number: str) -> Response:
        return _run_action(request, number, action)

    view.__name__ = view.__qualname__ = f"case_{action.name}"
    return view


def action_patterns() -> list[URLPattern]:
    """One route per action of the loop table, under /api/v1/."""
    return [
        path(f"cases/<str:number>/{a.slug}/", action_view(a), name=f"api-case-{a.slug}")
        for a in loop.ACTIONS.values()
    ]


class NotificationRead(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="none: all of mine"
    )


@extend_schema(
    operation_id="notifications",
    parameters=[OpenApiParameter("unread", bool, description="only the unread ones")],
    responses=doc.answers({200: doc.NotificationItem(many=True)}),
)
@api_view(["GET"])
def notifications(request: Request) -> Response:
    """My notifications, newest first (at most 200)."""
    from cases.services.notifications import mine, still_visible

    rows = mine(request.user)
    if request.query_params.get("unread") in ("1", "true", "yes"):
        rows = rows.filter(read=False)
    rows = list(rows[:200])
    visible = still_visible(request.user, rows)
    return Response(
        [
            {
                "id": n.pk,
                "kind": n.kind,
                "text": n.text,
                "case": n.case.number if n.case else None,
                "cases": [number for number in n.digest_of if number in visible],
                "created": n.created,
                "read": n.read,
            }
            for n in rows
        ]
    )


@extend_schema(
    operation_id="notifications_read",
    request=NotificationRead,
    responses=doc.answers({200: doc.Marked}),
)
@api_view(["POST"])
@parser_classes(PARSERS)
def notifications_read(request: Request) -> Response:
    """Mark my notifications read: the ones named, or all."""
    from cases.services.notifications import mark_read

    if not isinstance(request.data, dict):
        raise ValidationError({"detail": _("Send the fields as a JSON object or a form.")})
    params = NotificationRead(data=request.data)
    params.is_valid(raise_exception=True)
    return Response({"marked": mark_read(request.user, params.validated_data.get("ids"))})


class ExportRequest(ListFilters):
    format = serializers.ChoiceField(["csv", "xlsx"])


def _export_body(request: Request, export) -> dict:
    body = {
        "id": export.pk,
        "status": export.status,
        "format": export.format,
        "total": export.total,
        "done": export.done,
        "error": export.error or None,
        "download": None,
    }
    if export.status == export.Status.DONE:
        body["download"] = request.build_absolute_uri(f"/api/v1/exports/{export.pk}/download/")
    return body


@extend_schema(
    operation_id="exports_start",
    request=ExportRequest,
    responses=doc.answers({202: doc.ExportStarted}),
)
@api_view(["POST"])
@parser_classes(PARSERS)
def exports(request: Request) -> Response:
    """Start a CSV or Excel export of the filtered case list; poll its URL for progress."""
    from cases.exports import export_start

    params = ExportRequest(data=request.data)
    params.is_valid(raise_exception=True)
    f = dict(params.validated_data)
    fmt = f.pop("format")
    f.pop("limit", None)
    f.pop("cursor", None)
    cases = _filtered(request, f)
    export = export_start(
        user=request.user,
        fmt=fmt,
        cases=cases,
        filters={k: str(v) for k, v in f.items() if v is not None},
    )
    body = _export_body(request, export)
    body["status_url"] = request.build_absolute_uri(f"/api/v1/exports/{export.pk}/")
    return Response(body, status=status.HTTP_202_ACCEPTED)


def _own_export(request: Request, pk: int):
    from cases.models import Export

    export = Export.objects.filter(pk=pk, user=request.user).first()
    if export is None:
        raise NotFound("No such export of yours.")
    return export


@extend_schema(operation_id="exports_status", responses=doc.answers({200: doc.ExportState}))
@api_view(["GET"])
def export_status(request: Request, pk: int) -> Response:
    return Response(_export_body(request, _own_export(request, pk)))


@extend_schema(
    operation_id="exports_download",
    responses=doc.answers(
        {(200, "text/csv"): OpenApiTypes.BINARY, (200, doc.XLSX): OpenApiTypes.BINARY}
    ),
)
@api_view(["GET"])
def export_download(request: Request, pk: int):
    from django.http import FileResponse

    export = _own_export(request, pk)
    if export.status != export.Status.DONE:
        raise ValidationError({"detail": f"The export is {export.status}, not done yet."})
    return FileResponse(
        export.file.open("rb"), as_attachment=True, filename=f"cases-{export.pk}.{export.format}"
    )
