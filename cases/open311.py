"""Open311 GeoReport v2 under /open311/v2/: discovery, services, requests.

Our second-level categories are the services. Requests created here are
ordinary cases (source "api"), located and triaged like any other. Every
request answers in JSON or XML by its extension, with the spec's error list
on a 400 or 404. `api_key` is a GridCase API token: it is required to create
requests, and with it reads cover the key holder's territory in full.

Without a key, reads are public as the spec's clients assume (unless
OPEN311_PUBLIC_READS is off): only cases of categories an administrator marked
public (never disputes or hazards), not rejected, with no personal data — no
names or phones, digit runs in the description masked, the description only
once the case was accepted, the address as the community, the location moved
to the cell's centre — and only the photos of the result.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.db.models.functions import Centroid
from django.contrib.gis.geos import Point
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.throttling import SimpleRateThrottle

from cases import services
from cases.models import OPEN_STATES, REJECTION_REASONS, Case, Category, Source
from cases.services.residents import result_photos
from core.authentication import CachedTokenAuthentication
from core.middleware import has_nul_field
from core.throttling import AnonThrottle, UserThrottle
from grid import coordinates

CHINA = ZoneInfo("Asia/Shanghai")
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
MAX_DESCRIPTION = 4000
# A phone, ID or house number inside a resident's words: seven digits or more.
DIGIT_RUN = re.compile(r"\d(?:[\d\s-]{5,}\d)")


class Open311Error(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def _time(value: datetime | None) -> str | None:
    return value.astimezone(CHINA).isoformat(timespec="seconds") if value else None


def _render(
    fmt: str, root: str, body: dict | list[dict], item: str | None = None, status: int = 200
) -> HttpResponse:
    """One document in JSON or XML: a dict, or a list whose XML elements are named `item`."""
    if fmt == "json":
        return HttpResponse(
            json.dumps(body, ensure_ascii=False),
            status=status,
            content_type="application/json; charset=utf-8",
        )
    top = ET.Element(root)
    if item is None:
        _xml_item(top, body)
    else:
        for row in body:
            _xml_item(ET.SubElement(top, item), row)
    return HttpResponse(
        '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="unicode"),
        status=status,
        content_type="text/xml; charset=utf-8",
    )


def _xml_item(element: ET.Element, row: dict) -> None:
    for key, value in row.items():
        child = ET.SubElement(element, key)
        if isinstance(value, dict):
            _xml_item(child, value)
        elif isinstance(value, list):
            singular = {
                "attributes": "attribute",
                "values": "value",
                "endpoints": "endpoint",
                "formats": "format",
                "keywords": "keyword",
            }.get(key, "item")
            for entry in value:
                sub = ET.SubElement(child, singular)
                if isinstance(entry, dict):
                    _xml_item(sub, entry)
                else:
                    sub.text = str(entry)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)


def _error(fmt: str, exc: Open311Error) -> HttpResponse:
    rows = [{"code": exc.code, "description": exc.description}]
    return _render(fmt, "errors", rows, item="error", status=exc.code)


def _format(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise Open311Error(404, "Unknown format; use .json or .xml.")
    return fmt


def handles_errors(view):
    def wrapper(request: HttpRequest, fmt: str, *args, **kwargs) -> HttpResponse:
        try:
            if not _has_key(request):
                _throttle(request, AnonThrottle())
            return view(request, _format(fmt), *args, **kwargs)
        except Open311Error as exc:
            response = _error(fmt if fmt in ("json", "xml") else "json", exc)
            if exc.retry_after is not None:
                response["Retry-After"] = str(exc.retry_after)
            return response

    wrapper.__name__ = view.__name__
    return csrf_exempt(wrapper)


def _has_key(request: HttpRequest) -> bool:
    return bool(request.GET.get("api_key") or request.POST.get("api_key"))


def _throttle(request: HttpRequest, throttle: SimpleRateThrottle) -> None:
    """The API's own rate limits: per token, or per address without one."""
    if not throttle.allow_request(request, None):
        wait = int(throttle.wait())
        raise Open311Error(429, f"Too many requests; retry in {wait} s.", retry_after=wait)


def _user_for(request: HttpRequest, api_key: str | None):
    """The token's owner, checked and counted as the API checks and counts them."""
    if not api_key:
        raise Open311Error(400, "api_key is required.")
    try:
        user, _token = CachedTokenAuthentication().authenticate_credentials(api_key)
    except AuthenticationFailed:
        # Counted by address like a request without a key: guessing keys is throttled.
        _throttle(request, AnonThrottle())
        raise Open311Error(400, "api_key is not valid (unknown or revoked).") from None
    request.user = user
    _throttle(request, UserThrottle())
    return user


def _services():
    return Category.objects.filter(active=True, parent__isnull=False).select_related("parent")


def _service(category: Category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.name_en or category.name,
        "metadata": category.is_dispute or category.is_hazard,
        "type": "realtime",
        "keywords": [category.parent.name, category.name_en] if category.name_en else [],
        "group": category.parent.name,
    }


def _attributes(category: Category) -> list[dict]:
    attributes = []
    if category.is_dispute:
        attributes.append(
            {
                "variable": True,
                "code": "parties",
                "datatype": "string",
                "required": False,
                "datatype_description": "Names of the parties, separated by commas",
                "order": 1,
                "description": "当事人 (parties to the dispute)",
            }
        )
    if category.is_hazard:
        attributes.append(
            {
                "variable": True,
                "code": "major_hazard",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": None,
                "order": 1,
                "description": "重大安全隐患 (major safety hazard: goes straight to the street)",
                "values": [{"key": "false", "name": "否"}, {"key": "true", "name": "是"}],
            }
        )
    return attributes


@handles_errors
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    base = request.build_absolute_uri("/open311/v2/")
    row = {
        "changeset": _time(timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)),
        "contact": "GridCase",
        "key_service": (
            "Reading public requests needs no key. To create requests, or to read every "
            "request of a territory, ask the street office's administrator for an API token."
        ),
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base,
                "changeset": "2026-11-22T00:00:00+08:00",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return _render(fmt, "discovery", row)


@handles_errors
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    return _render(fmt, "services", [_service(c) for c in _services()], item="service")


@handles_errors
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    category = _services().filter(code=code).first()
    if category is None:
        raise Open311Error(404, f"No service {code}.")
    row = {"service_code": category.code, "attributes": _attributes(category)}
    return _render(fmt, "service_definition", row)


def _request_row(case: Case) -> dict:
    closed = case.state not in OPEN_STATES
    return {
        "service_request_id": case.number,
        "status": "closed" if closed else "open",
        "status_notes": f"{case.state}: {_status_words(case)}",
        "service_name": case.category.name,
        "service_code": case.category.code,
        "description": case.description,
        "agency_responsible": case.department.name if case.department else case.street.name,
        "service_notice": "",
        "requested_datetime": _time(case.reported_at),
        "updated_datetime": _time(case.updated),
        "expected_datetime": _time(case.step_due) if not closed else None,
        "address": case.address,
        "address_id": "",
        "zipcode": "",
        "lat": case.location.y,
        "long": case.location.x,
        "media_url": "",
    }


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:  # well formed, but no such day or time (2026-13-01)
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise Open311Error(400, f"{name} must be an ISO 8601 date-time with a time zone.")
    return parsed


def public_cases() -> QuerySet[Case]:
    """What anyone may read: cases of public kinds, not rejected (a rejected report
    was never a public matter) and not merged away."""
    return Case.objects.filter(category__public=True, merged_into__isnull=True).exclude(
        closure_reason__in=REJECTION_REASONS
    )


def _public_photos() -> Prefetch:
    photos = result_photos().order_by("-pk")
    return Prefetch("attachments", queryset=photos.only("pk", "case_id"), to_attr="public_photos")


def _mask(text: str) -> str:
    return DIGIT_RUN.sub(lambda match: "*" * len(match.group()), text)


def _public_row(case: Case, request: HttpRequest) -> dict:
    """The staff row less everything personal or internal."""
    row = _request_row(case)
    # The cell's centre; a case outside every cell, its community's or street's:
    # never the point itself (the resident's door).
    centre = case.cell_centre or case.community_centre or case.street_centre
    unit = case.community or case.street
    photos = case.public_photos
    row |= {
        "status_notes": _status_words(case),
        "description": _mask(case.description) if case.triaged_at else "",
        "address": unit.name,
        # The cell's centre: where, to the street, without pointing at a door.
        "lat": round(centre.y, 5),
        "long": round(centre.x, 5),
        "media_url": request.build_absolute_uri(f"/open311/v2/media/{photos[0].pk}")
        if photos
        else "",
    }
    return row


def _status_words(case: Case) -> str:
    words = str(case.get_state_display())
    if case.closure_reason:
        words += f" · {case.get_closure_reason_display()}"
    return words


def _readable(request: HttpRequest) -> tuple[QuerySet[Case], bool]:
    """The cases this request may read, and whether it reads them as the public."""
    api_key = request.GET.get("api_key")
    if api_key or not settings.OPEN311_PUBLIC_READS:
        user = _user_for(request, api_key)
        cases = services.visible_cases(user).select_related("category", "street", "department")
        return cases, False
    cases = (
        public_cases()
        .select_related("category", "street", "community", "department")
        .annotate(
            cell_centre=Centroid("cell__boundary"),
            community_centre=Centroid("community__boundary"),
            street_centre=Centroid("street__boundary"),
        )
        .prefetch_related(_public_photos())
    )
    return cases, True


def _rows(request: HttpRequest, cases, public: bool) -> list[dict]:
    if public:
        return [_public_row(case, request) for case in cases]
    return [_request_row(case) for case in cases]


@handles_errors
def requests_(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _create(request, fmt)
    cases, public = _readable(request)
    ids = request.GET.get("service_request_id")
    if ids:
        cases = cases.filter(number__in=[i.strip() for i in ids.split(",") if i.strip()])
    else:
        end = _date(request.GET.get("end_date"), "end_date") or timezone.now()
        start = _date(request.GET.get("start_date"), "start_date") or end - DEFAULT_WINDOW
        cases = cases.filter(reported_at__gte=start, reported_at__lte=end)
        if codes := request.GET.get("service_code"):
            cases = cases.filter(category__code__in=codes.split(","))
        if status := request.GET.get("status"):
            wanted = set(status.split(","))
            if not wanted <= {"open", "closed"}:
                raise Open311Error(400, "status must be open, closed or both.")
            if wanted == {"open"}:
                cases = cases.filter(state__in=OPEN_STATES)
            elif wanted == {"closed"}:
                cases = cases.exclude(state__in=OPEN_STATES)
    rows = _rows(request, cases.order_by("-reported_at")[:MAX_REQUESTS], public)
    return _render(fmt, "service_requests", rows, item="request")


@handles_errors
def request_detail(request: HttpRequest, fmt: str, number: str) -> HttpResponse:
    cases, public = _readable(request)
    case = cases.filter(number=number).first()
    if case is None:
        # A case that exists but is not public answers as one that does not.
        raise Open311Error(404, f"No service request {number}.")
    return _render(fmt, "service_requests", _rows(request, [case], public), item="request")


def public_photo(request: HttpRequest, pk: int) -> HttpResponse:
    """A result photo of a public case (a request's media_url), for anyone."""
    photo = None
    if settings.OPEN311_PUBLIC_READS:
        photo = (
            result_photos()
            .filter(pk=pk, case__in=public_cases())
            .only("file", "content_type")
            .first()
        )
    if photo is None:
        return HttpResponse(status=404)
    return FileResponse(photo.file.open("rb"), content_type=photo.content_type)


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    data = request.POST
    if has_nul_field(data):  # read raw, not through a form: PostgreSQL text cannot hold NUL
        raise Open311Error(400, "A field contains a NUL character.")
    user = _user_for(request, data.get("api_key"))
    category = _services().filter(code=data.get("service_code", "")).first()
    if category is None:
        raise Open311Error(400, "service_code is missing or unknown.")
    if "long" not in data or "lat" not in data:
        raise Open311Error(400, "lat and long are required, as decimal degrees (WGS-84).")
    try:
        lon, lat = coordinates.lon_lat(data["long"], data["lat"])
    except coordinates.CoordinateError as error:
        raise Open311Error(400, f"lat and long must be decimal degrees (WGS-84): {error}") from None
    description = data.get("description", "")
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description is longer than {MAX_DESCRIPTION} characters.")
    parties = [
        {"name": name.strip()}
        for name in data.get("attribute[parties]", "").split(",")
        if name.strip()
    ]
    name = " ".join(p for p in (data.get("last_name", ""), data.get("first_name", "")) if p)
    try:
        result = services.case_report(
            actor=user,
            category=category,
            description=description,
            location=Point(lon, lat, srid=4326),
            source=Source.API,
            major_hazard=data.get("attribute[major_hazard]") == "true",
            address=data.get("address_string", "")[:200],
            reporter_name=name[:60],
            reporter_phone=data.get("phone", "")[:30],
            parties=parties,
        )
    except services.ServiceError as exc:
        raise Open311Error(400, str(exc)) from None
    case = result.case
    resident_page = request.build_absolute_uri(reverse("resident:lookup"))
    row = {
        "service_request_id": case.number,
        # The spec's free text for the requester: where and how to follow the case.
        "service_notice": _(
            "%(state)s. Follow it at %(url)s with the number and the access code %(code)s."
        )
        % {"state": case.get_state_display(), "url": resident_page, "code": case.access_code},
        "account_id": "",
    }
    return _render(
        fmt, "service_requests", [row], item="request", status=201 if result.created else 200
    )
