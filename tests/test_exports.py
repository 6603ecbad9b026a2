"""CSV and Excel exports: written by a real worker process, readable by the person who
asked (their language, names beside codes, Beijing time), durable when the worker dies."""

import csv
import io
import os
import signal
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from cases.exports import recover_stale
from cases.models import Case, Category, Export
from tests.base import api, build_cast, build_territory, exported, report, wait_done, wait_for
from tests.live import task_worker

pytestmark = pytest.mark.usefixtures("reference_data")


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


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def by_header(rows: list[list]) -> list[dict]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_an_export_of_ten_thousand_cases_arrives_whole(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    territory = build_territory()
    cast = build_cast(territory)
    many_cases(territory, 10_000)
    client = api(cast.leader)
    started = client.post("/api/v1/exports/", {"format": "csv"}, format="json")
    assert started.status_code == 202
    assert started.json()["total"] == 10_000
    with task_worker():
        body = wait_done(client, started.json()["status_url"])
    assert body["status"] == "done" and body["total"] == body["done"] == 10_000
    rows = csv_rows(b"".join(client.get(body["download"]).streaming_content))
    assert rows[0][:3] == ["Number", "State", "Category code"]
    numbers = [r[0] for r in rows[1:]]
    assert len(numbers) == 10_000
    assert set(numbers) == set(Case.objects.values_list("number", flat=True))


@pytest.mark.usefixtures("export_worker")
def test_it_writes_chinese_labels_names_beside_codes_and_beijing_time():
    territory = build_territory()
    cast = build_cast(territory)
    case = report(cast.worker, address="和平街1号")
    Case.objects.filter(pk=case.pk).update(
        state="closed",
        urgency="emergency",
        closure_reason="unsatisfied_final",
        satisfaction="unsatisfied",
        deadline_state="red",
        department=cast.department,
        # 16:30 UTC is half past midnight of the next day in Beijing.
        reported_at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC),
        closed_at=datetime(2026, 3, 5, 2, 0, tzinfo=UTC),
    )
    row = by_header(csv_rows(exported(api(cast.leader, language="zh-hans"), "csv")))[0]
    assert row["编号"] == case.number
    assert row["状态"] == "已结案"
    assert (row["类别代码"], row["类别"]) == ("0401", "垃圾堆放")
    assert row["紧急程度"] == "紧急"
    assert row["来源"] == "网格员"
    assert (row["街道代码"], row["街道"]) == ("420106002", "杨园街道")
    assert (row["社区代码"], row["社区"]) == ("420106002001", "和平社区")
    assert (row["网格代码"], row["网格"]) == ("420106002001001", "和平社区第1网格")
    assert row["部门"] == "杨园城管中队"
    assert row["地址"] == "和平街1号"
    location = (round(case.location.x, 6), round(case.location.y, 6))
    assert (float(row["经度"]), float(row["纬度"])) == location
    assert row["上报时间（北京时间）"] == "2026-03-02 00:30"
    assert row["结案时间（北京时间）"] == "2026-03-05 10:00"
    assert row["时限"] == "超期"
    assert row["结案原因"] == "居民不满意但已结案"
    assert row["满意度"] == "不满意"


@pytest.mark.usefixtures("export_worker")
def test_it_writes_english_for_a_requester_who_reads_english():
    territory = build_territory()
    cast = build_cast(territory)
    case = report(cast.worker)
    Case.objects.filter(pk=case.pk).update(
        state="closed",
        closure_reason="resolved",
        satisfaction="basic",
        reported_at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC),
    )
    content = exported(api(cast.leader, language="en"), "xlsx")
    values = list(load_workbook(io.BytesIO(content)).active.values)
    row = by_header([list(v) for v in values])[0]
    assert row["Number"] == case.number
    assert row["State"] == "Closed"
    assert (row["Category code"], row["Category"]) == ("0401", "Rubbish dumping")
    assert row["Urgency"] == "General"
    assert (row["Street code"], row["Street"]) == ("420106002", "杨园街道")
    assert row["Reported (Beijing time)"] == "2026-03-02 00:30"
    assert row["Deadline"] == "On time"
    assert row["Closure reason"] == "Resolved"
    assert row["Satisfaction"] == "Basically satisfied"


@pytest.mark.usefixtures("export_worker")
def test_an_excel_export_is_filtered_and_territorial():
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


@pytest.mark.usefixtures("export_worker")
def test_a_description_that_looks_like_a_formula_stays_text_in_both_formats():
    cast = build_cast(build_territory())
    for text in FORMULAS:
        report(cast.worker, description=text)
    client = api(cast.leader)
    stored = sorted(Case.objects.values_list("description", flat=True))  # as the service kept them
    assert all(text.startswith(("=", "+", "-", "@")) for text in stored)

    rows = csv_rows(exported(client, "csv"))
    column = rows[0].index("Description")
    assert sorted(r[column] for r in rows[1:]) == ["'" + text for text in stored]

    sheet = load_workbook(io.BytesIO(exported(client, "xlsx"))).active
    cells = [row[column] for row in sheet.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in cells)
    assert sorted(c.value for c in cells) == stored


def _stale(export_pk: int) -> datetime:
    """A moment at which the export's heartbeat is older than EXPORT_STALE_SECONDS."""
    from django.conf import settings

    heartbeat = Export.objects.get(pk=export_pk).heartbeat
    return heartbeat + timedelta(seconds=settings.EXPORT_STALE_SECONDS + 1)


def test_an_export_whose_worker_is_killed_is_started_over_and_finished_by_the_next(
    settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    territory = build_territory()
    cast = build_cast(territory)
    many_cases(territory, 3_000)
    client = api(cast.leader)
    started = client.post("/api/v1/exports/", {"format": "csv"}, format="json").json()
    pk = started["id"]
    # Small batches: many progress steps, so the kill lands mid-export.
    with task_worker(EXPORT_BATCH="20") as worker:
        # A short step: the worker is caught mid-file, before it finishes.
        wait_for(lambda: Export.objects.get(pk=pk).done > 0, seconds=60, step=0.02)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    left = client.get(started["status_url"]).json()
    assert left["status"] == "running" and 0 < left["done"] < 3_000

    # The sweep, once the heartbeat is old, starts the export over for the next worker.
    assert recover_stale(now=_stale(pk) - timedelta(seconds=2)) == 0  # not yet stale
    assert recover_stale(now=_stale(pk)) == 1
    assert client.get(started["status_url"]).json()["status"] == "queued"
    with task_worker():
        body = wait_done(client, started["status_url"])
    assert body["status"] == "done" and body["done"] == 3_000 and body["error"] is None
    numbers = [r[0] for r in csv_rows(b"".join(client.get(body["download"]).streaming_content))]
    assert numbers[0] == "Number"
    assert sorted(numbers[1:]) == sorted(Case.objects.values_list("number", flat=True))
    # Nothing of the killed attempt is left behind.
    assert not list((tmp_path / "exports" / "partial").iterdir())


def test_an_export_that_keeps_losing_its_worker_fails_with_a_reason_in_its_language(settings):
    settings.EXPORT_ATTEMPTS = 2
    cast = build_cast(build_territory())
    report(cast.worker)
    started = api(cast.leader, language="zh-hans").post(
        "/api/v1/exports/", {"format": "csv"}, format="json"
    )
    pk = started.json()["id"]
    for attempt in range(2):  # no worker runs; each attempt "dies" after claiming
        Export.objects.filter(pk=pk).update(status="running", heartbeat=timezone.now())
        assert recover_stale(now=_stale(pk)) == 1
        assert Export.objects.get(pk=pk).attempt == min(attempt + 1, 1)
    export = Export.objects.get(pk=pk)
    assert export.status == "failed"
    assert "导出已中断 2 次" in export.error
    answer = api(cast.leader).get(f"/api/v1/exports/{pk}/").json()
    assert answer["status"] == "failed" and answer["error"] == export.error


def test_an_export_whose_job_failed_before_it_began_is_started_over_not_left_queued():
    from django_tasks_db.models import DBTaskResult

    cast = build_cast(build_territory())
    report(cast.worker)
    client = api(cast.leader)
    started = client.post("/api/v1/exports/", {"format": "csv"}, format="json").json()
    first = Export.objects.get(pk=started["id"])
    # The job ended before its run claimed the export (say the database went away).
    DBTaskResult.objects.filter(id=first.task_id).update(
        status="FAILED", finished_at=timezone.now()
    )
    assert recover_stale() == 1
    again = Export.objects.get(pk=first.pk)
    assert again.status == "queued" and again.attempt == 1 and again.task_id != first.task_id
    assert DBTaskResult.objects.get(id=again.task_id).status == "READY"
    assert recover_stale() == 0  # its new job is waiting for a worker: nothing to recover
    with task_worker():
        body = wait_done(client, started["status_url"])
    assert body["status"] == "done" and body["done"] == 1


def test_a_failing_export_records_its_error(settings, tmp_path):
    # Exports go under MEDIA_ROOT; here it is a file, not a folder (a broken volume).
    blocked = tmp_path / "media"
    blocked.write_text("not a folder")
    settings.MEDIA_ROOT = blocked
    cast = build_cast(build_territory())
    report(cast.worker)
    client = api(cast.leader)
    started = client.post("/api/v1/exports/", {"format": "csv"}, format="json").json()
    with task_worker():
        body = wait_done(client, started["status_url"])
    assert body["status"] == "failed" and body["download"] is None
    assert body["error"] == "The export failed: Not a directory"
    assert str(tmp_path) not in body["error"]
