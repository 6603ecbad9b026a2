"""What the diary API answers, for its OpenAPI schema (checked by tests/test_api_fuzz.py)."""

from __future__ import annotations

from rest_framework import serializers

from grid.api_schema import answers

__all__ = ["answers"]


class DiaryPhoto(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()


class DiaryEntry(serializers.Serializer):
    id = serializers.IntegerField()
    client_id = serializers.CharField()
    visited_at = serializers.DateTimeField()
    text = serializers.CharField()
    place = serializers.CharField(allow_blank=True)
    community = serializers.CharField(help_text="the community's code")
    community_name = serializers.CharField()
    photos = DiaryPhoto(many=True)


class DiaryWritten(DiaryEntry):
    created = serializers.BooleanField(help_text="false: this client_id was written before")


class DiaryPage(serializers.Serializer):
    results = DiaryEntry(many=True)
