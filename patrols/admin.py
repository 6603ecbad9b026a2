from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from leaflet.admin import LeafletGeoAdmin

from core.admin import ReadOnlyAdmin
from grid.locate import OutsideTerritory, locate
from grid.territory import Territory
from patrols.models import CheckIn, KeyPlace, Patrol
from patrols.services import place_save


class KeyPlaceForm(forms.ModelForm):
    class Meta:
        model = KeyPlace
        fields = ["name", "kind", "point", "active", "check_in_radius_m"]

    def clean_point(self):
        point = self.cleaned_data["point"]
        try:
            locate(point)
        except OutsideTerritory as exc:
            raise ValidationError(str(exc)) from None
        return point


@admin.register(KeyPlace)
class KeyPlaceAdmin(LeafletGeoAdmin):
    """Key places (重点场所); their street, community and cell follow from the point."""

    list_display = ["name", "kind", "cell", "community", "active", "check_in_radius_m"]
    list_filter = ["kind", "active", "street"]
    search_fields = ["name"]
    list_select_related = ["cell", "community"]

    def get_queryset(self, request):
        territory = Territory.for_user(request.user)
        return super().get_queryset(request).filter(territory.q())

    form = KeyPlaceForm

    def save_model(self, request, obj, form, change):
        place_save(obj)


class CheckInInline(ReadOnlyAdmin, admin.TabularInline):
    model = CheckIn
    fields = ["place", "at", "distance_m"]
    readonly_fields = fields
    extra = 0


@admin.register(Patrol)
class PatrolAdmin(ReadOnlyAdmin, LeafletGeoAdmin):
    """Patrols are written only by the phone (patrols.services.record_patrol)."""

    list_display = ["worker", "started_at", "length_m", "duration_s", "cell"]
    list_filter = ["street"]
    list_select_related = ["worker", "cell"]
    date_hierarchy = "started_at"
    inlines = [CheckInInline]

    def get_queryset(self, request):
        territory = Territory.for_user(request.user)
        return super().get_queryset(request).filter(territory.q())
