"""Administrators edit reference data here; cases and timelines are read-only.

Every change to a case goes through cases.services, so the admin shows cases
but does not edit them.
"""

from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from cases.models import (
    Attachment,
    CalendarDay,
    Case,
    Category,
    Contact,
    DeadlineRule,
    Notification,
    OutboxMessage,
    PhoneDisclosure,
    TimelineEntry,
)
from core.admin import ReadOnlyAdmin


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "name_en",
        "parent",
        "is_dispute",
        "is_hazard",
        "public",
        "active",
    ]
    list_filter = ["active", "public", "is_dispute", "is_hazard", "parent"]
    search_fields = ["code", "name", "name_en"]


@admin.register(DeadlineRule)
class DeadlineRuleAdmin(admin.ModelAdmin):
    list_display = ["step", "category", "urgency", "amount", "unit"]
    list_filter = ["step", "urgency", "unit"]
    list_editable = ["amount", "unit"]


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["day", "is_workday", "name", "edited"]
    list_filter = ["is_workday", "edited"]
    date_hierarchy = "day"
    readonly_fields = ["edited"]

    def save_model(self, request, obj, form, change):
        # An administrator's word stands: `load_calendar` will not change this day.
        obj.edited = True
        super().save_model(request, obj, form, change)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TimelineInline(ReadOnlyInline):
    model = TimelineEntry
    fields = ["seq", "at", "actor", "action", "from_state", "to_state", "note"]
    readonly_fields = fields


class AttachmentInline(ReadOnlyInline):
    model = Attachment
    fields = ["file", "content_type", "size", "uploaded_by", "uploaded"]
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin, LeafletGeoAdmin):
    list_display = [
        "number",
        "category",
        "urgency",
        "state",
        "deadline_state",
        "street",
        "community",
        "reported_at",
    ]
    list_filter = ["state", "deadline_state", "urgency", "source", "street"]
    search_fields = ["number", "description", "address"]
    list_select_related = ["category", "street", "community"]
    date_hierarchy = "reported_at"
    inlines = [TimelineInline, AttachmentInline]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "case", "kind", "text", "created", "read"]
    list_filter = ["kind", "read"]


@admin.register(PhoneDisclosure)
class PhoneDisclosureAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """The PIPL log: who saw a resident's full phone number, when, on which case."""

    list_display = ["at", "user", "case", "via"]
    list_filter = ["via"]
    search_fields = ["case__number", "user__username"]
    date_hierarchy = "at"


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """What left (or failed to leave) for e-mail, SMS and group robots, with the error."""

    list_display = ["notification", "channel", "status", "attempts", "next_attempt", "error"]
    list_filter = ["status", "channel"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    """A person's mobile for SMS notifications (they may set it themselves too)."""

    list_display = ["user", "phone"]
    search_fields = ["user__username", "phone"]
