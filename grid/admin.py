from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletGeoAdmin

from grid.models import (
    CellAssignment,
    Community,
    Department,
    District,
    GridCell,
    Post,
    Street,
)


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


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "street", "district"]
    search_fields = ["name"]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "district", "street", "community", "department", "ended"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]


@admin.register(CellAssignment)
class CellAssignmentAdmin(admin.ModelAdmin):
    list_display = ["worker", "cell", "started", "ended"]
    search_fields = ["worker__username", "cell__code"]
    autocomplete_fields = ["worker", "cell"]


admin.site.site_header = _("GridCase administration")
admin.site.site_title = _("GridCase")
