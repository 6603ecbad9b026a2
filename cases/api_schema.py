"""What the API answers, for its OpenAPI schema: the bodies the handlers build,
and the errors every operation may give. The handlers build plain dicts (fast,
and shaped by the services); these serializers describe those dicts, and the
schema-driven fuzz test (tests/test_api_fuzz.py) checks every answer against them.
"""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from cases.metrics import GROUP_CHOICES
from cases.models import ClosureReason, DeadlineState, Export, Satisfaction, State, Urgency
from grid.api_schema import answers

__all__ = ["answers"]  # the operations in cases.api document their errors through it

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PointGeometry(serializers.Serializer):
    type = serializers.ChoiceField(["Point"])
    coordinates = serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2, help_text="[lon, lat] WGS-84"
    )


class CaseSummary(serializers.Serializer):
    number = serializers.CharField()
    state = serializers.ChoiceField(State.choices)
    state_label = serializers.CharField(help_text="the state in the caller's language")
    category = serializers.CharField(help_text="category code")
    category_name = serializers.CharField(help_text="the category in the caller's language")
    urgency = serializers.ChoiceField(Urgency.choices)
    urgency_label = serializers.CharField()
    major_hazard = serializers.BooleanField()
    description = serializers.CharField()
    location = PointGeometry()
    street = serializers.CharField(help_text="street code")
    community = serializers.CharField(allow_null=True)
    cell = serializers.CharField(allow_null=True, help_text="15-digit grid cell code")
    deadline = serializers.ChoiceField(DeadlineState.choices)
    deadline_label = serializers.CharField()
    step_due = serializers.DateTimeField(allow_null=True)
    reported_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    closure_reason = serializers.ChoiceField(ClosureReason.choices, allow_blank=True)
    satisfaction = serializers.ChoiceField(Satisfaction.choices, allow_blank=True)
    supporters = serializers.IntegerField(help_text="how many others reported it too (me too)")


class PartyShown(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField(required=False, help_text="only to those who handle the case")


class TimelineItem(serializers.Serializer):
    seq = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True, help_text="username")
    actor_name = serializers.CharField(allow_null=True, help_text="the person's name")
    action = serializers.CharField()
    action_label = serializers.CharField()
    # "from" is a Python keyword: declared under another name, renamed below.
    from_ = serializers.CharField(allow_blank=True)
    to = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class ReporterShown(serializers.Serializer):
    name = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(
        allow_blank=True,
        help_text="in full only for the return visit's owner and the handler (logged); "
        "masked (138****5678) for everyone else",
    )
    consent = serializers.BooleanField(help_text="the resident agreed to be called back")


class Photo(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField(help_text="loads with the same token or session")
    content_type = serializers.CharField()
    stage = serializers.ChoiceField(
        ["before", "after", "check", "other"],
        help_text="before: as reported; after: the handler's result; check: at verification",
    )
    stage_label = serializers.CharField()
    step = serializers.CharField(allow_null=True, help_text="the timeline action it came with")
    step_label = serializers.CharField(allow_null=True)
    by = serializers.CharField(allow_null=True, help_text="who took it")
    at = serializers.DateTimeField()


class CaseDetail(CaseSummary):
    task_id = serializers.IntegerField(allow_null=True)
    can_act = serializers.BooleanField()
    reporter = ReporterShown()
    access_code = serializers.CharField(
        allow_blank=True, help_text="with the number, opens the resident's page"
    )
    resident_url = serializers.URLField(
        allow_null=True,
        help_text="the resident's page for this case (/r/…); the code and the link only for "
        "who took the report or deals with the residents, never for the case's handler",
    )
    parties = PartyShown(many=True)
    timeline = TimelineItem(many=True)
    photos = Photo(many=True)


class Reported(CaseDetail):
    created = serializers.BooleanField(help_text="false when the client_id was seen before")


class NearbyCase(serializers.Serializer):
    number = serializers.CharField()
    category = serializers.CharField(help_text="category code")
    category_name = serializers.CharField()
    state_label = serializers.CharField()
    description = serializers.CharField()
    distance_m = serializers.IntegerField(help_text="metres from the given point")
    reported_at = serializers.DateTimeField()
    supporters = serializers.IntegerField()


class Supported(serializers.Serializer):
    number = serializers.CharField(help_text="the case now supported")
    supporters = serializers.IntegerField(help_text="its supporters, this one included")
    access_code = serializers.CharField(
        allow_blank=True, help_text="with the number, the resident follows the case on /r/"
    )
    created = serializers.BooleanField(help_text="false when the client_id was seen before")


class HandedOn(serializers.Serializer):
    number = serializers.CharField()
    visible = serializers.BooleanField(help_text="false: the step moved it out of your territory")


StepResult = PolymorphicProxySerializer(
    component_name="StepResult",
    serializers=[CaseDetail, HandedOn],
    resource_type_field_name=None,
)


class CasePage(serializers.Serializer):
    results = CaseSummary(many=True)
    next_cursor = serializers.IntegerField(allow_null=True, help_text="pass as cursor")


class Task(CaseSummary):
    task_id = serializers.IntegerField()
    claimed_by_me = serializers.BooleanField()


class CategoryRow(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField(allow_blank=True)
    label = serializers.CharField(help_text="the name in the caller's language")
    group = serializers.CharField(allow_null=True)
    dispute = serializers.BooleanField()
    hazard = serializers.BooleanField()


class Unit(serializers.Serializer):
    code = serializers.CharField(
        allow_null=True,
        help_text="the unit's code (a department's id, a week's Monday or a month's first day);"
        " null: cases in no unit",
    )
    name = serializers.CharField(allow_null=True)
    reported = serializers.IntegerField()
    by_state = serializers.DictField(child=serializers.IntegerField())
    by_category = serializers.DictField(child=serializers.IntegerField())
    open = serializers.IntegerField()
    overdue = serializers.IntegerField(help_text="open and past the deadline now")
    closed_late = serializers.IntegerField(help_text="closed after going past a deadline")
    urges = serializers.IntegerField(help_text="督办: the system's at red and supervisors'")
    closed = serializers.IntegerField()
    rejected = serializers.IntegerField()
    merged = serializers.IntegerField(help_text="duplicates merged into another case")
    supporters = serializers.IntegerField(help_text="others who reported these cases too")
    reopens = serializers.IntegerField()
    triaged = serializers.IntegerField()
    response_due = serializers.IntegerField(help_text="answered, or waiting past the deadline")
    triaged_in_time = serializers.IntegerField()
    accepted = serializers.IntegerField()
    resolved = serializers.IntegerField()
    rated = serializers.IntegerField()
    satisfied = serializers.IntegerField()
    mean_hours_to_close = serializers.FloatField(allow_null=True)
    p90_hours_to_close = serializers.FloatField(allow_null=True)
    steps_done = serializers.DictField(
        child=serializers.IntegerField(), help_text="finished steps, by state"
    )
    hours_by_step = serializers.DictField(
        child=serializers.FloatField(), help_text="mean hours from a step's start to its end"
    )
    response_rate = serializers.FloatField(allow_null=True)
    resolution_rate = serializers.FloatField(allow_null=True)
    satisfaction_rate = serializers.FloatField(allow_null=True)


class Metrics(serializers.Serializer):
    group = serializers.ChoiceField(GROUP_CHOICES)
    units = Unit(many=True)


class ExportState(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(Export.Status.choices)
    format = serializers.ChoiceField(["csv", "xlsx"])
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)
    download = serializers.URLField(allow_null=True)


class ExportStarted(ExportState):
    status_url = serializers.URLField()


class NotificationItem(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    text = serializers.CharField()
    case = serializers.CharField(allow_null=True, help_text="the case's number; null for a digest")
    cases = serializers.ListField(
        child=serializers.CharField(), help_text="a digest's case numbers (else empty)"
    )
    created = serializers.DateTimeField()
    read = serializers.BooleanField()


class Marked(serializers.Serializer):
    marked = serializers.IntegerField()
