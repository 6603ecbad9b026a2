"""Territory API: streets, communities and cells as GeoJSON, and point → cell lookup.

Every list starts from the caller's Territory.
"""

from __future__ import annotations

from django.contrib.gis.geos import Point, Polygon
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from grid import coordinates
from grid.api_schema import Located, answers
from grid.locate import OutsideTerritory, locate
from grid.models import Community, GridCell, Street
from grid.territory import Territory

MAX_FEATURES = 5000


class StreetSerializer(GeoFeatureModelSerializer):
    district = serializers.CharField(source="district.code")

    class Meta:
        model = Street
        geo_field = "boundary"
        fields = ["id", "code", "name", "district"]


class CommunitySerializer(GeoFeatureModelSerializer):
    street = serializers.CharField(source="street.code")

    class Meta:
        model = Community
        geo_field = "boundary"
        fields = ["id", "code", "name", "street"]


class CellSerializer(GeoFeatureModelSerializer):
    community = serializers.CharField(source="community.code")

    class Meta:
        model = GridCell
        geo_field = "boundary"
        fields = ["id", "code", "name", "community", "households", "population"]


def _bbox(request: Request):
    raw = request.query_params.get("bbox")
    if not raw:
        return None
    try:
        return Polygon.from_bbox(coordinates.bbox(raw))
    except coordinates.CoordinateError as error:
        raise ValidationError({"bbox": str(error)}) from None


def _features(request: Request, qs, serializer):
    bbox = _bbox(request)
    if bbox is not None:
        qs = qs.filter(boundary__intersects=bbox)
    qs = qs.order_by("code")
    if qs.count() > MAX_FEATURES:
        raise ValidationError(
            {"bbox": f"More than {MAX_FEATURES} features; narrow the request with bbox."}
        )
    return Response(serializer(qs, many=True).data)


BBOX = OpenApiParameter("bbox", str, description="west,south,east,north (WGS-84)")


@extend_schema(
    operation_id="territory_streets",
    parameters=[BBOX],
    responses=answers({200: StreetSerializer(many=True)}),
)
@api_view(["GET"])
def streets(request: Request) -> Response:
    qs = Territory.for_user(request.user).streets().select_related("district")
    return _features(request, qs, StreetSerializer)


@extend_schema(
    operation_id="territory_communities",
    parameters=[BBOX],
    responses=answers({200: CommunitySerializer(many=True)}),
)
@api_view(["GET"])
def communities(request: Request) -> Response:
    qs = Territory.for_user(request.user).communities().select_related("street")
    return _features(request, qs, CommunitySerializer)


@extend_schema(
    operation_id="territory_cells",
    parameters=[BBOX],
    responses=answers({200: CellSerializer(many=True)}),
)
@api_view(["GET"])
def cells(request: Request) -> Response:
    qs = Territory.for_user(request.user).cells().select_related("community")
    return _features(request, qs, CellSerializer)


class LocateSerializer(serializers.Serializer):
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)


@extend_schema(
    operation_id="territory_locate",
    parameters=[LocateSerializer],
    responses=answers({200: Located}),
)
@api_view(["GET"])
def locate_point(request: Request) -> Response:
    """Which cell, community and street a WGS-84 point belongs to (属地)."""
    params = LocateSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    point = Point(params.validated_data["lon"], params.validated_data["lat"], srid=4326)
    try:
        where = locate(point)
    except OutsideTerritory as exc:
        raise ValidationError({"detail": str(exc)}) from None
    if not Territory.for_user(request.user).reaches(where.street):
        raise ValidationError({"detail": _("The point is outside your territory.")})
    return Response(
        {
            "street": where.street.code,
            "community": where.community.code if where.community else None,
            "cell": where.cell.code if where.cell else None,
            "method": where.method,
        }
    )
