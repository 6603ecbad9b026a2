"""CSV and Excel exports of a filtered case list, written in a background thread.

`export_start` records the request and, after commit, starts a thread that
writes the file in batches and updates the progress; the API reports the
progress and, when done, a download link. The rows are exactly those the
requester could list (their territory and filters).
"""

from __future__ import annotations

import csv
import io
import logging
import threading

from django.core.files.base import ContentFile
from django.db import close_old_connections, transaction
from django.utils import timezone

from cases.models import Case, Export

logger = logging.getLogger(__name__)
BATCH = 2000
COLUMNS = [
    ("number", "编号 Number"),
    ("state", "状态 State"),
    ("category", "类别 Category"),
    ("urgency", "紧急程度 Urgency"),
    ("street", "街道 Street"),
    ("community", "社区 Community"),
    ("cell", "网格 Cell"),
    ("lon", "经度 Longitude"),
    ("lat", "纬度 Latitude"),
    ("description", "描述 Description"),
    ("reported_at", "上报时间 Reported"),
    ("closed_at", "结案时间 Closed"),
    ("deadline", "时限 Deadline"),
    ("closure_reason", "结案原因 Closure reason"),
    ("satisfaction", "满意度 Satisfaction"),
]


def _row(case: Case) -> list:
    local = timezone.localtime
    return [
        case.number,
        case.state,
        case.category.code,
        case.urgency,
        case.street.code,
        case.community.code if case.community else "",
        case.cell.code if case.cell else "",
        round(case.location.x, 6),
        round(case.location.y, 6),
        case.description,
        local(case.reported_at).strftime("%Y-%m-%d %H:%M"),
        local(case.closed_at).strftime("%Y-%m-%d %H:%M") if case.closed_at else "",
        case.deadline_state,
        case.closure_reason,
        case.satisfaction,
    ]


# A cell starting with one of these is a formula to Excel, LibreOffice and
# WPS when read from CSV (=HYPERLINK("http://…") in a resident's description).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """Text that a spreadsheet would run is written with a leading apostrophe (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _xlsx_cells(sheet, row: list) -> list:
    """Text cells typed as text: openpyxl would store "=…" as a live formula."""
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for value in row:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"
        cells.append(cell)
    return cells


def export_start(*, user, fmt: str, filters: dict, cases) -> Export:
    """Queue an export of `cases` (already limited to the user's territory and filters)."""
    export = Export.objects.create(user=user, format=fmt, filters=filters, total=cases.count())
    ids = list(cases.order_by("-pk").values_list("pk", flat=True))
    transaction.on_commit(
        lambda: threading.Thread(target=run_export, args=(export.pk, ids), daemon=True).start()
    )
    return export


def run_export(export_pk: int, ids: list[int]) -> None:
    try:
        Export.objects.filter(pk=export_pk).update(status=Export.Status.RUNNING)
        export = Export.objects.get(pk=export_pk)
        content = _write(export, ids)
        export.file.save(f"cases-{export.pk}.{export.format}", ContentFile(content), save=False)
        export.status, export.finished, export.done = Export.Status.DONE, timezone.now(), len(ids)
        export.save(update_fields=["file", "status", "finished", "done"])
    except Exception as exc:  # recorded for the requester rather than lost in a thread
        logger.exception("Export %s failed", export_pk)
        Export.objects.filter(pk=export_pk).update(
            status=Export.Status.FAILED, error=str(exc)[:300]
        )
    finally:
        close_old_connections()


def _batches(ids: list[int]):
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        cases = Case.objects.filter(pk__in=chunk).select_related(
            "category", "street", "community", "cell"
        )
        by_pk = {c.pk: c for c in cases}
        yield start + len(chunk), [by_pk[pk] for pk in chunk if pk in by_pk]


def _write(export: Export, ids: list[int]) -> bytes:
    header = [label for _, label in COLUMNS]
    if export.format == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("cases")
        sheet.append(header)
        for done, cases in _batches(ids):
            for case in cases:
                sheet.append(_xlsx_cells(sheet, _row(case)))
            Export.objects.filter(pk=export.pk).update(done=done)
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    for done, cases in _batches(ids):
        writer.writerows([csv_safe(v) for v in _row(case)] for case in cases)
        Export.objects.filter(pk=export.pk).update(done=done)
    # A BOM so that Excel opens the UTF-8 Chinese correctly.
    return ("\ufeff" + text.getvalue()).encode("utf-8")
