"""The phone's patrol API under /api/v1/patrols/ (docs: CONTRACT in docs/patrols.md).

Each handler starts from the caller's territory and calls one service; a
refusal is a 400 {"detail", "errors"} that wrote nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from core.refusals import refusal
from grid.models import Role
from grid.territory import Territory
from patrols import api_schema as doc
from patrols import services
from patrols.models import KeyPlace, Patrol


class FixSerializer(serializers.Serializer):
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    at = serializers.DateTimeField()
    accuracy = serializers.FloatField(min_value=0, required=False, allow_null=True)


class CheckInSerializer(FixSerializer):
    # Bounded like the primary key: a larger number made SQLite raise (a 500).
    place = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class PatrolSerializer(serializers.Serializer):
    client_id = serializers.CharField(max_length=64)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    points = FixSerializer(many=True, allow_empty=False)
    check_ins = CheckInSerializer(many=True, required=False)
    cases = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=100
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    def validate_points(self, value):
        # Checked before the serializer builds thousands of dicts more.
        if len(value) > settings.PATROL_MAX_POINTS:
            raise serializers.ValidationError(
                services.too_many_points_message(settings.PATROL_MAX_POINTS)
            )
        return value


def _fix(d: dict) -> services.Fix:
    return services.Fix(d["lon"], d["lat"], d["at"], d.get("accuracy"))


def payload_of(data: dict) -> services.PatrolPayload:
    return services.PatrolPayload(
        client_id=data["client_id"],
        started_at=data["started_at"],
        ended_at=data["ended_at"],
        points=[_fix(p) for p in data["points"]],
        check_ins=[services.CheckInFix(c["place"], _fix(c)) for c in data.get("check_ins", [])],
        cases=list(data.get("cases", [])),
        note=data.get("note", ""),
    )


def patrol_body(patrol: Patrol, created: bool | None = None) -> dict:
    """A patrol as the phone reads it back (the contract's body)."""
    body = {
        "id": patrol.pk,
        "client_id": patrol.client_id,
        "started_at": patrol.started_at,
        "ended_at": patrol.ended_at,
        "length_m": patrol.length_m,
        "duration_s": patrol.duration_s,
        "cells": [c.code for c in patrol.cells.all()],
        "check_ins": len(patrol.check_ins.all()),
        "cases": sorted(
            link.case.number for link in patrol.case_links.all() if link.case is not None
        ),
        "note": patrol.note,
    }
    if created is not None:
        body["created"] = created
    return body


def _with_details(qs):
    return qs.prefetch_related("cells", "check_ins", "case_links__case")


def _require_worker(territory: Territory) -> None:
    if not territory.has_role(Role.GRID_WORKER):
        raise ApiPermissionDenied(services.not_a_worker_message())


@extend_schema(operation_id="patrols_setup", responses=doc.answers({200: doc.PatrolSetup}))
@api_view(["GET"])
def setup(request: Request) -> Response:
    """What the phone needs to run a patrol: the settings and the key places around it."""
    territory = Territory.for_user(request.user)
    places = (
        KeyPlace.objects.filter(territory.q(), active=True)
        .select_related("cell")
        .order_by("name", "pk")
    )
    return Response(
        {
            "position_seconds": settings.PATROL_POSITION_SECONDS,
            "check_in_radius_m": settings.PATROL_CHECK_IN_RADIUS_M,
            "max_points": settings.PATROL_MAX_POINTS,
            "max_accuracy_m": settings.PATROL_MAX_ACCURACY_M,
            "places": [
                {
                    "id": p.pk,
                    "name": p.name,
                    "kind": p.kind,
                    "kind_label": p.get_kind_display(),
                    "lon": p.point.x,
                    "lat": p.point.y,
                    "cell": p.cell.code if p.cell else None,
                    "radius_m": p.radius_m,
                }
                for p in places
            ],
        }
    )


@extend_schema(
    operation_id="patrols_record",
    request=PatrolSerializer,
    responses=doc.answers({201: doc.PatrolRecorded, 200: doc.PatrolRecorded}),
    description="Record a finished patrol. A client_id already used returns it with 200.",
)
@api_view(["POST"])
def patrols(request: Request) -> Response:
    """Record a finished patrol; the same client_id again answers 200 with the first one."""
    territory = Territory.for_user(request.user)
    _require_worker(territory)
    serializer = PatrolSerializer(data=request.data)
    if not serializer.is_valid():
        return refusal(serializer.errors)
    try:
        result = services.record_patrol(
            worker=request.user, payload=payload_of(serializer.validated_data), territory=territory
        )
    except DjangoValidationError as exc:
        return refusal(exc)
    except PermissionDenied as exc:
        raise ApiPermissionDenied(str(exc)) from None
    patrol = _with_details(Patrol.objects.filter(pk=result.patrol.pk)).get()
    return Response(
        patrol_body(patrol, result.created),
        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
    )


@extend_schema(operation_id="patrols_mine", responses=doc.answers({200: doc.PatrolPage}))
@api_view(["GET"])
def mine(request: Request) -> Response:
    """The caller's 20 latest patrols, newest first."""
    rows = _with_details(Patrol.objects.filter(worker=request.user).order_by("-started_at")[:20])
    return Response({"results": [patrol_body(p) for p in rows]})
