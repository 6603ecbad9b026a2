"""The phone's work-diary API under /api/v1/diary/ (docs/patrols.md)."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from cases.services.photos import PHOTO_TYPES
from core.refusals import refusal
from diary import api_schema as doc
from diary import services
from diary.models import DiaryEntry
from grid.territory import Territory


class DiarySerializer(serializers.Serializer):
    client_id = serializers.CharField(max_length=64)
    visited_at = serializers.DateTimeField()
    # Lengths are the service's to check, with its own words.
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)
    place = serializers.CharField(required=False, allow_blank=True)
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False, allow_null=True)
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    photos = serializers.ListField(child=serializers.FileField(), required=False)

    def validate(self, attrs):
        if (attrs.get("lon") is None) != (attrs.get("lat") is None):
            raise serializers.ValidationError({"lon": _("Give both longitude and latitude.")})
        return attrs


def entry_body(entry: DiaryEntry, request: Request, created: bool | None = None) -> dict:
    body = {
        "id": entry.pk,
        "client_id": entry.client_id,
        "visited_at": entry.visited_at,
        "text": entry.text,
        "place": entry.place,
        "community": entry.community.code,
        "community_name": entry.community.name,
        "photos": [
            {
                "id": photo.pk,
                "url": request.build_absolute_uri(
                    reverse("api-diary-photo", args=[entry.pk, photo.pk])
                ),
            }
            for photo in entry.photos.all()
        ],
    }
    if created is not None:
        body["created"] = created
    return body


def _with_details(qs):
    return qs.select_related("community").prefetch_related("photos")


@extend_schema(
    operation_id="diary_record",
    request=DiarySerializer,
    responses=doc.answers({201: doc.DiaryWritten, 200: doc.DiaryWritten}),
    description="Write a diary entry. A client_id already used returns it with 200.",
)
@api_view(["POST"])
@parser_classes([MultiPartParser, FormParser, JSONParser])
def entries(request: Request) -> Response:
    """Write a diary entry; the same client_id again answers 200 with the first one."""
    territory = Territory.for_user(request.user)
    serializer = DiarySerializer(data=request.data)
    if not serializer.is_valid():
        return refusal(serializer.errors)
    data = serializer.validated_data
    point = None
    if data.get("lon") is not None:
        point = Point(data["lon"], data["lat"], srid=4326)
    try:
        result = services.diary_record(
            author=request.user,
            client_id=data["client_id"],
            visited_at=data["visited_at"],
            text=data["text"],
            place=data.get("place", ""),
            point=point,
            photos=data.get("photos") or request.FILES.getlist("photos"),
            territory=territory,
        )
    except DjangoValidationError as exc:
        return refusal(exc)
    except PermissionDenied as exc:
        raise ApiPermissionDenied(str(exc)) from None
    entry = _with_details(DiaryEntry.objects.filter(pk=result.entry.pk)).get()
    return Response(
        entry_body(entry, request, result.created),
        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
    )


@extend_schema(operation_id="diary_mine", responses=doc.answers({200: doc.DiaryPage}))
@api_view(["GET"])
def mine(request: Request) -> Response:
    """The caller's 20 latest entries, newest visit first."""
    rows = _with_details(
        DiaryEntry.objects.filter(author=request.user).order_by("-visited_at", "-pk")[:20]
    )
    return Response({"results": [entry_body(e, request) for e in rows]})


@extend_schema(
    operation_id="diary_photo",
    responses=doc.answers({(200, mime): OpenApiTypes.BINARY for mime in PHOTO_TYPES.values()}),
)
@api_view(["GET"])
def photo(request: Request, pk: int, photo_pk: int):
    """One photo of an entry the caller may read, or wrote (token or session)."""
    territory = Territory.for_user(request.user)
    # The author's own too: their diary (`mine`) lists them after they moved away.
    readable = services.visible_entries(territory) | DiaryEntry.objects.filter(author=request.user)
    entry = readable.filter(pk=pk).first()
    found = entry.photos.filter(pk=photo_pk).first() if entry else None
    if found is None:
        raise NotFound(_("No such photo."))
    response = FileResponse(found.file.open("rb"), content_type=found.content_type)
    response["Cache-Control"] = "private, max-age=86400"
    return response
