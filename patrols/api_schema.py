"""What the patrol API answers, for its OpenAPI schema (checked by tests/test_api_fuzz.py)."""

from __future__ import annotations

from rest_framework import serializers

from grid.api_schema import answers
from patrols.models import PlaceKind

__all__ = ["answers"]


class KeyPlaceRow(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(PlaceKind.choices)
    kind_label = serializers.CharField(help_text="the kind in the caller's language")
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    cell = serializers.CharField(allow_null=True, help_text="the grid cell's code")
    radius_m = serializers.IntegerField(help_text="how near a check-in must be")


class PatrolSetup(serializers.Serializer):
    position_seconds = serializers.IntegerField()
    check_in_radius_m = serializers.IntegerField()
    max_points = serializers.IntegerField()
    max_accuracy_m = serializers.IntegerField(
        help_text="positions less accurate are left out of the track and its length"
    )
    places = KeyPlaceRow(many=True)


class PatrolBody(serializers.Serializer):
    id = serializers.IntegerField()
    client_id = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    length_m = serializers.FloatField()
    duration_s = serializers.IntegerField()
    cells = serializers.ListField(child=serializers.CharField(), help_text="cells crossed")
    check_ins = serializers.IntegerField()
    cases = serializers.ListField(child=serializers.CharField(), help_text="case numbers")
    note = serializers.CharField(allow_blank=True)


class PatrolRecorded(PatrolBody):
    created = serializers.BooleanField(help_text="false: this client_id was recorded before")


class PatrolPage(serializers.Serializer):
    results = PatrolBody(many=True)
