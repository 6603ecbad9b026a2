"""The case search page's input: its filters, offered from the user's territory only.

The form only parses: `filters()` turns what was chosen into the CaseFilters
that services.filtered_cases applies, the same the API's list and exports use.
A unit from another territory is not among the choices, and a code typed in
by hand that is not in the territory is a form error, not an empty list.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from cases import reference
from cases.models import Case, Source, State, Urgency
from cases.services import CaseFilters
from grid.territory import Territory

ANY = ("", _("Any"))
# Every order ends with the primary key, so that no case shows on two pages.
ORDERS = {
    "newest": (_("Newest first"), ("-reported_at", "-pk")),
    "oldest": (_("Oldest first"), ("reported_at", "pk")),
    "due": (_("Deadline soonest"), (F("step_due").asc(nulls_last=True), "pk")),
    "number": (_("Number"), ("number",)),
}
DEADLINES = [ANY, ("overdue", _("Overdue")), ("due_soon", _("Due soon"))]
YES_NO = [ANY, ("yes", _("Yes")), ("no", _("No"))]


class OptionsSelect(forms.Select):
    """A select whose options are written here, in one pass.

    Django's Select renders a template for every option; on this page's hundred
    or so options that cost more than the whole result table.
    """

    def render(self, name, value, attrs=None, renderer=None) -> str:
        attrs = self.build_attrs(self.attrs, attrs)
        chosen = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (v, mark_safe(" selected") if str(v) == chosen else "", label)
                for v, label in self.choices
            ),
        )
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(attrs), options)


def choice(label, choices=(), field=forms.ChoiceField, **kwargs) -> forms.ChoiceField:
    """An optional choice among `choices` (set later for those from the territory)."""
    return field(label=label, choices=choices, required=False, widget=OptionsSelect, **kwargs)


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Text"),
        max_length=100,
        required=False,
        help_text=_("Part of the number, the description or the address"),
    )
    state = choice(_("State"), [ANY, *State.choices])
    group = choice(_("Category group"))
    category = choice(_("Category"))
    urgency = choice(_("Urgency"), [ANY, *Urgency.choices])
    community = choice(_("Community"))
    cell = forms.CharField(
        label=_("Grid cell"),
        required=False,
        max_length=15,
        widget=OptionsSelect,
        help_text=_("Choose a community first"),
    )
    department = choice(_("Department"), field=forms.TypedChoiceField, coerce=int, empty_value=None)
    deadline = choice(_("Deadline"), DEADLINES)
    supervised = choice(_("Urged (督办)"), YES_NO)
    reopened = choice(_("Reopened"), YES_NO)
    source = choice(_("Source"), [ANY, *Source.choices])
    since = forms.DateField(
        label=_("Reported from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("Reported until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = choice(_("Sort"), [(key, label) for key, (label, _order) in ORDERS.items()])

    def __init__(self, *args, territory: Territory, **kwargs):
        super().__init__(*args, **kwargs)
        categories = sorted(reference.categories.get().values(), key=lambda c: c.code)
        self.fields["group"].choices = [ANY] + [
            (c.code, c.display_name) for c in categories if c.parent_id is None
        ]
        self.fields["category"].choices = [ANY] + [
            (c.code, f"{c.parent.display_name} · {c.display_name}")
            for c in categories
            if c.parent_id is not None
        ]
        communities = territory.communities().order_by("code").values_list("code", "name")
        self.fields["community"].choices = [ANY, *communities]
        self._territory_cells = territory.cells()
        self.fields["cell"].widget.choices = [ANY, *self._cells()]
        departments = territory.departments().order_by("name").values_list("pk", "name")
        self.fields["department"].choices = [ANY, *departments]

    def _cells(self) -> list[tuple[str, str]]:
        """The chosen community's cells: a street's hundreds make no usable list."""
        community = self.data.get("community") if self.is_bound else None
        if not community:
            return []
        cells = self._territory_cells.filter(community__code=community).order_by("code")
        return [(code, f"{name} ({code})") for code, name in cells.values_list("code", "name")]

    def clean_cell(self) -> str:
        """A cell of the territory (and of the chosen community), typed or chosen."""
        code = self.cleaned_data["cell"].strip()
        if not code:
            return ""
        cells = self._territory_cells.filter(code=code)
        if community := self.data.get("community"):
            cells = cells.filter(community__code=community)
        if not cells.exists():
            raise forms.ValidationError(
                _("No grid cell %(code)s in your territory or the community chosen.")
                % {"code": code}
            )
        return code

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        for name, day in (("since", since), ("until", until)):
            # The office's records, not any date a calendar allows (9999-12-31 has no next day).
            if day and not 2000 <= day.year <= 2100:
                self.add_error(name, _("Choose a date between 2000 and 2100."))
        if since and until and until < since:
            self.add_error("until", _("The end is before the start."))
        return data

    def filters(self) -> CaseFilters:
        """What was chosen, as the filters every case list applies."""
        d = self.cleaned_data
        return CaseFilters(
            state=d["state"] or None,
            category=d["category"] or d["group"] or None,
            urgency=d["urgency"] or None,
            community=d["community"] or None,
            cell=d["cell"] or None,
            department=d["department"],
            deadline=d["deadline"] or None,
            supervised=_yes_no(d["supervised"]),
            reopened=_yes_no(d["reopened"]),
            source=d["source"] or None,
            since=_day_start(d["since"]),
            until=_day_start(d["until"] + timedelta(days=1)) if d["until"] else None,
            text=d["q"].strip(),
        )

    def sorted(self, cases: QuerySet[Case]) -> QuerySet[Case]:
        _label, order = ORDERS[self.cleaned_data["sort"] or "newest"]
        return cases.order_by(*order)

    def chosen(self) -> dict[str, str]:
        """The filters that were set, as text: recorded with an export."""
        return {k: str(v) for k, v in self.cleaned_data.items() if v not in ("", None)}


class CappedPaginator(Paginator):
    """Pages of a case list that counts at most COUNT_CAP cases.

    Counting every match means reading every matching row (a text search reads
    each of a street's descriptions); the first page needs only fifty. Past
    the cap the page says "more than …" and how to see the rest (narrow the
    filters, sort the other way, or export them all).
    """

    COUNT_CAP = 1000
    capped = False

    @cached_property
    def count(self) -> int:
        counted = self.object_list.order_by()[: self.COUNT_CAP + 1].count()
        self.capped = counted > self.COUNT_CAP
        return min(counted, self.COUNT_CAP)


def _day_start(day) -> datetime | None:
    """Midnight of a day in the site's time zone (Asia/Shanghai)."""
    return timezone.make_aware(datetime.combine(day, time.min)) if day else None
