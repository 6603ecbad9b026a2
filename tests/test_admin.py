"""Administrators manage territory and reference data with a map widget served from here."""

import re

from django.templatetags.static import static

from cases.models import Case
from tests.base import report


def external_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(https?://[^"]+)"', html)


def test_it_edits_a_grid_cell_on_a_local_map_widget(client, cast, territory):
    client.force_login(cast.admin)
    cell = territory.cell("420106002001001")
    response = client.get(f"/admin/grid/gridcell/{cell.pk}/change/")
    html = response.content.decode()
    assert static("leaflet/leaflet.js") in html  # hashed, as DEBUG off serves it
    assert "420106002001001" in html
    assert external_assets(html) == []


def test_it_lists_cases_read_only_with_their_timeline(client, cast):
    case = report(cast.worker)
    client.force_login(cast.admin)
    html = client.get(f"/admin/cases/case/{case.pk}/change/").content.decode()
    assert case.number in html
    assert "reported" in html
    assert 'name="_save"' not in html
    response = client.post(f"/admin/cases/case/{case.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Case.objects.filter(pk=case.pk).exists()


def test_the_calendar_and_deadline_rules_are_editable(client, cast):
    client.force_login(cast.admin)
    html = client.get("/admin/cases/deadlinerule/").content.decode()
    assert "working_days" in html or "working days" in html.lower()
    response = client.post(
        "/admin/cases/calendarday/add/", {"day": "2027-01-01", "is_workday": "", "name": "元旦"}
    )
    assert response.status_code == 302
