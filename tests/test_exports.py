"""CSV and Excel exports run in the background, report progress and download."""

import csv
import io

from django.utils import timezone
from openpyxl import load_workbook

from cases.models import Case, Category
from tests.base import api, build_cast, build_territory, exported, report, wait_done


def many_cases(territory, n: int) -> None:
    """n bare case rows in street A (test data, not the report path)."""
    from django.contrib.gis.geos import Point

    category = Category.objects.get(code="0401")
    cell = territory.cell("420106002001001")
    now = timezone.now()
    Case.objects.bulk_create(
        [
            Case(
                number=f"X{i:07d}",
                category=category,
                description=f"批量{i}",
                location=Point(114.302, 30.558, srid=4326),
                street=territory.street_a,
                community=territory.a1,
                cell=cell,
                source="api",
                reported_at=now,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )


def test_an_export_of_ten_thousand_cases(reference_data, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    territory = build_territory()
    cast = build_cast(territory)
    many_cases(territory, 10_000)
    client = api(cast.leader)
    started = client.post("/api/v1/exports/", {"format": "csv"}, format="json")
    assert started.status_code == 202
    body = wait_done(client, started.json()["status_url"])
    assert body["status"] == "done" and body["total"] == body["done"] == 10_000
    download = client.get(body["download"])
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "编号 Number"
    assert len(rows) == 10_001
    assert {r[0] for r in rows[1:]} == set(Case.objects.values_list("number", flat=True))


def test_an_excel_export_is_filtered_and_territorial(reference_data, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    territory = build_territory()
    cast = build_cast(territory)
    kept = report(cast.worker, code="0303")
    report(cast.worker)
    client = api(cast.leader)
    started = client.post(
        "/api/v1/exports/", {"format": "xlsx", "category": "03"}, format="json"
    ).json()
    body = wait_done(client, started["status_url"])
    content = b"".join(client.get(body["download"]).streaming_content)
    sheet = load_workbook(io.BytesIO(content)).active
    values = list(sheet.values)
    assert [row[0] for row in values[1:]] == [kept.number]
    # Someone else's export is not theirs to see.
    assert api(cast.outsider).get(started["status_url"]).status_code == 404
    bad = client.post("/api/v1/exports/", {"format": "pdf"}, format="json")
    assert bad.status_code == 400


FORMULAS = ['=HYPERLINK("http://evil.example/","点击")', "+1+1", "-2+3", "@SUM(1,2)", "\t=1"]


def test_a_description_that_looks_like_a_formula_stays_text_in_both_formats(
    reference_data, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    cast = build_cast(build_territory())
    for text in FORMULAS:
        report(cast.worker, description=text)
    client = api(cast.leader)
    stored = sorted(Case.objects.values_list("description", flat=True))  # as the service kept them
    assert all(text.startswith(("=", "+", "-", "@")) for text in stored)

    rows = list(csv.reader(io.StringIO(exported(client, "csv").decode("utf-8-sig"))))
    column = rows[0].index("描述 Description")
    assert sorted(r[column] for r in rows[1:]) == ["'" + text for text in stored]

    sheet = load_workbook(io.BytesIO(exported(client, "xlsx"))).active
    cells = [row[column] for row in sheet.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in cells)
    assert sorted(c.value for c in cells) == stored
