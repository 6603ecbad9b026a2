from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletGeoAdmin

from core.admin import ReadOnlyAdmin
from grid.models import (
    CellAssignment,
    Community,
    Department,
    District,
    GridCell,
    Post,
    StaffingLog,
    Street,
)
from grid.staffing import StaffingError, log_ended, tenure_end


class AreaAdmin(LeafletGeoAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    ordering = ["code"]


@admin.register(District)
class DistrictAdmin(AreaAdmin):
    pass


@admin.register(Street)
class StreetAdmin(AreaAdmin):
    list_display = ["code", "name", "district"]
    list_filter = ["district"]
    list_select_related = ["district"]


@admin.register(Community)
class CommunityAdmin(AreaAdmin):
    list_display = ["code", "name", "street"]
    list_filter = ["street"]
    list_select_related = ["street"]


class TenureAdmin(admin.ModelAdmin):
    """Posts and cell assignments: ending one (the action, or an end date typed in the
    form) goes through grid.staffing, which logs it; claims follow on commit."""

    actions = ["end_now"]

    @admin.action(description=_("End now (releases the person's claimed steps)"))
    def end_now(self, request, queryset):
        ended = 0
        for tenure in queryset.filter(ended__isnull=True):
            try:
                tenure_end(actor=request.user, tenure=tenure, via="admin")
                ended += 1
            except StaffingError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        self.message_user(request, _("%(n)d ended.") % {"n": ended}, messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        newly_ended = "ended" in form.changed_data and obj.ended is not None
        super().save_model(request, obj, form, change)
        if newly_ended:
            log_ended(actor=request.user, tenure=obj, via="admin")


class CellAssignmentInline(admin.TabularInline):
    model = CellAssignment
    extra = 0
    autocomplete_fields = ["worker"]


@admin.register(GridCell)
class GridCellAdmin(AreaAdmin):
    list_display = ["code", "name", "community", "households", "population"]
    list_filter = ["community__street"]
    list_select_related = ["community"]
    inlines = [CellAssignmentInline]

    def save_formset(self, request, form, formset, change):
        # An assignment ended in the cell's inline is logged as from its own page.
        ended = [
            f.instance
            for f in formset.forms
            if isinstance(f.instance, CellAssignment)
            and "ended" in f.changed_data
            and f.cleaned_data.get("ended")
            and not f.cleaned_data.get("DELETE")
        ]
        super().save_formset(request, form, formset, change)
        for tenure in ended:
            log_ended(actor=request.user, tenure=tenure, via="admin")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "street", "district"]
    search_fields = ["name"]


@admin.register(Post)
class PostAdmin(TenureAdmin):
    list_display = ["user", "role", "district", "street", "community", "department", "ended"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]


@admin.register(CellAssignment)
class CellAssignmentAdmin(TenureAdmin):
    list_display = ["worker", "cell", "started", "ended"]
    search_fields = ["worker__username", "cell__code"]
    autocomplete_fields = ["worker", "cell"]


@admin.register(StaffingLog)
class StaffingLogAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["at", "person_name", "what", "ended", "actor", "via"]
    list_filter = ["via", "street"]
    search_fields = ["person_name", "what"]


admin.site.site_header = _("GridCase administration")
admin.site.site_title = _("GridCase")
