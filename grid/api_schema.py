"""The errors every API operation may answer, for the OpenAPI schema (cases' and grid's)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class Detail(serializers.Serializer):
    detail = serializers.CharField()


ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="The input is refused: each field with its messages, or `detail`.",
    ),
    401: OpenApiResponse(Detail, description="No valid token or session."),
    403: OpenApiResponse(Detail, description="Not allowed for this person."),
    404: OpenApiResponse(Detail, description="Not in the caller's territory, or no such thing."),
    429: OpenApiResponse(Detail, description="Too many requests: wait and retry."),
}


def answers(ok: dict) -> dict:
    """Responses of an operation: its successes and the common errors."""
    return ok | ERRORS


class Located(serializers.Serializer):
    street = serializers.CharField()
    community = serializers.CharField(allow_null=True)
    cell = serializers.CharField(allow_null=True)
    method = serializers.CharField(help_text="how the point was placed (cell, near, community …)")
