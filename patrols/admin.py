from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from leaflet.admin import LeafletGeoAdmin

from core.admin import ReadOnlyAdmin
from grid.locate import OutsideTerritory, locate
from grid.territory import Territory
from patrols.models import CheckIn, KeyPlace, Patrol
from patrols.services import place_save


class KeyPlaceForm(forms.ModelForm):
    # The administrator's territory, set per request by KeyPlaceAdmin.get_form.
    territory: Territory

    class Meta:
        model = KeyPlace
        fields = ["name", "kind", "point", "active", "check_in_radius_m"]

    def clean_point(self):
        point = self.cleaned_data["point"]
        try:
            where = locate(point)
        except OutsideTerritory as exc:
            raise ValidationError(str(exc)) from None
        if not _holds(self.territory, where):
            # A place in another street would show on its workers' phones and maps.
            raise ValidationError(_("The point is outside your territory."))
        return point


def _holds(territory: Territory, where) -> bool:
    if where.cell is not None:
        return territory.cells().filter(pk=where.cell.pk).exists()
    if where.community is not None:
        return territory.communities().filter(pk=where.community.pk).exists()
    # Only the street is known: it must be wholly the administrator's.
    street = where.street
    return (
        territory.everything
        or street.pk in territory.street_ids
        or street.district_id in territory.district_ids
    )


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

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.territory = Territory.for_user(request.user)
        return form

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
