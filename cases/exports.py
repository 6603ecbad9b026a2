"""CSV and Excel exports of a filtered case list, written by a background worker.

`export_start` records the request (the requester's case list as a query, their
language, the newest case it may include) and enqueues `run_export` in the same
transaction: the job is a django-tasks-db row in our own database, so the export
and its job exist together or not at all. `manage.py db_worker` runs it: keyset
batches of EXPORT_BATCH cases straight into a spool file (csv.writer, or openpyxl's
write-only sheet), progress and a heartbeat saved after each batch, the finished
file moved into storage. Memory stays flat however many rows there are.

A worker that dies mid-export (killed, its machine lost) leaves the export
"running" with a heartbeat that no longer moves; a job that fails before its
run claims the export (the database away at that moment) leaves it "queued"
behind a finished job. The timer sweep (`recover_stale`) starts either over
as a new attempt, which the next worker runs, or after EXPORT_ATTEMPTS fails
it with a reason in the requester's language.
Only the current attempt's run may record progress or finish, so a run that was
wrongly thought dead stops at its next batch instead of racing its successor.
"""

from __future__ import annotations

import csv
import logging
import pickle
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import FloatField, Func, Max, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext
from django_tasks import task

from cases.models import (
    Case,
    ClosureReason,
    DeadlineState,
    Export,
    Satisfaction,
    Source,
    State,
    Urgency,
)

logger = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The most rows an .xlsx sheet holds, less the header.
XLSX_MAX_ROWS = 1_048_575


class ExportError(Exception):
    """A failure whose message the requester can read as it is."""


class Superseded(Exception):
    """This run's attempt is no longer the export's current one: stop quietly."""


def _local(value: datetime | None) -> str:
    return timezone.localtime(value, SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


def _labels(choices) -> Callable[[str], str]:
    """Code → label in the active language (read once per run, not per row)."""
    table = {value: str(label) for value, label in choices.choices}
    return lambda value: table.get(value, value) if value else ""


def _category_name(values: dict) -> str:
    english = (translation.get_language() or "").startswith("en")
    return (
        values["category__name_en"]
        if english and values["category__name_en"]
        else values["category__name"]
    )


# (header, the fields it reads, how a row's values become the cell). Labels are
# read in the requester's language; codes stay beside the names they stand for.
Column = tuple[str, tuple[str, ...], Callable[[dict], object]]


def columns() -> list[Column]:
    state, urgency, source = _labels(State), _labels(Urgency), _labels(Source)
    deadline, reason, satisfaction = (
        _labels(DeadlineState),
        _labels(ClosureReason),
        _labels(Satisfaction),
    )
    return [
        (gettext("Number"), ("number",), lambda v: v["number"]),
        (gettext("State"), ("state",), lambda v: state(v["state"])),
        (gettext("Category code"), ("category__code",), lambda v: v["category__code"]),
        (gettext("Category"), ("category__name", "category__name_en"), _category_name),
        (gettext("Urgency"), ("urgency",), lambda v: urgency(v["urgency"])),
        (gettext("Source"), ("source",), lambda v: source(v["source"])),
        (gettext("Street code"), ("street__code",), lambda v: v["street__code"]),
        (gettext("Street"), ("street__name",), lambda v: v["street__name"]),
        (gettext("Community code"), ("community__code",), lambda v: v["community__code"] or ""),
        (gettext("Community"), ("community__name",), lambda v: v["community__name"] or ""),
        (gettext("Grid cell code"), ("cell__code",), lambda v: v["cell__code"] or ""),
        (gettext("Grid cell"), ("cell__name",), lambda v: v["cell__name"] or ""),
        (gettext("Department"), ("department__name",), lambda v: v["department__name"] or ""),
        (gettext("Longitude"), ("lon",), lambda v: round(v["lon"], 6)),
        (gettext("Latitude"), ("lat",), lambda v: round(v["lat"], 6)),
        (gettext("Address"), ("address",), lambda v: v["address"]),
        (gettext("Description"), ("description",), lambda v: v["description"]),
        (gettext("Reported (Beijing time)"), ("reported_at",), lambda v: _local(v["reported_at"])),
        (gettext("Step due (Beijing time)"), ("step_due",), lambda v: _local(v["step_due"])),
        (gettext("Deadline"), ("deadline_state",), lambda v: deadline(v["deadline_state"])),
        (gettext("Closed (Beijing time)"), ("closed_at",), lambda v: _local(v["closed_at"])),
        (gettext("Closure reason"), ("closure_reason",), lambda v: reason(v["closure_reason"])),
        (gettext("Satisfaction"), ("satisfaction",), lambda v: satisfaction(v["satisfaction"])),
    ]


# A cell starting with one of these is a formula to Excel, LibreOffice and
# WPS when read from CSV (=HYPERLINK("http://…") in a resident's description).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """Text that a spreadsheet would run is written with a leading apostrophe (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


# ---- asking for an export -----------------------------------------------------


def export_start(*, user, fmt: str, filters: dict, cases: QuerySet[Case]) -> Export:
    """Queue an export of `cases` (already limited to the user's territory and filters).

    The rows are written in the language active now (the request's).
    """
    if cases.query.is_sliced:
        raise ValueError("Export a whole case list, not a slice of one")
    with transaction.atomic():
        # Cases reported after this moment are not part of what was asked for,
        # also when a run is started over later.
        upto = Case.objects.aggregate(newest=Max("pk"))["newest"] or 0
        cases = cases.filter(pk__lte=upto).order_by()
        export = Export.objects.create(
            user=user,
            format=fmt,
            filters=filters,
            total=cases.count(),
            language=translation.get_language() or settings.LANGUAGE_CODE,
            query=pickle.dumps(cases.query),
            upto=upto,
        )
        _enqueue(export)
    return export


def _enqueue(export: Export) -> None:
    """The current attempt's job; in the caller's transaction, so both or neither."""
    result = run_export.enqueue(export.pk, export.attempt)
    export.task_id = result.id
    export.save(update_fields=["task_id"])


# ---- the worker's side --------------------------------------------------------


@task()
def run_export(export_pk: int, attempt: int) -> int:
    """Write one attempt of an export; returns the rows written (0 if superseded)."""
    claimed = Export.objects.filter(
        pk=export_pk, attempt=attempt, status=Export.Status.QUEUED
    ).update(status=Export.Status.RUNNING, done=0, heartbeat=timezone.now())
    if not claimed:  # started over meanwhile, or already finished
        return 0
    export = Export.objects.get(pk=export_pk)
    spool = None
    try:
        with translation.override(export.language):
            try:
                spool = _spool(export)
                rows = _write(export, spool)
                _finish(export, spool, rows)
                return rows
            except Superseded:
                return 0
            except ExportError as exc:
                _fail(export, str(exc))
                return 0
            except Exception as exc:
                # Recorded for the requester; the job's row keeps the traceback.
                _fail(export, gettext("The export failed: %(error)s") % {"error": _reason(exc)})
                raise
    finally:
        if spool is not None:
            spool.unlink(missing_ok=True)


def _reason(exc: Exception) -> str:
    # An OSError's message without the server's paths (a full disk, a missing folder).
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _spool(export: Export) -> Path:
    """Where this attempt writes: beside the stored files, so finishing is a rename."""
    folder = Path(settings.MEDIA_ROOT) / "exports" / "partial"
    folder.mkdir(parents=True, exist_ok=True)
    for earlier in folder.glob(f"{export.pk}-*"):  # what a killed attempt left
        earlier.unlink(missing_ok=True)
    return folder / f"{export.pk}-{export.attempt}.{export.format}"


def cases_of(export: Export) -> QuerySet[Case]:
    """The export's case list, as its requester asked for it."""
    cases = Case.objects.all()
    cases.query = pickle.loads(export.query)  # our own row, written by export_start
    return cases


def export_rows(export: Export, fields: list[str]) -> QuerySet[Case]:
    """The export's cases as plain values, newest first."""
    # Coordinates as numbers from the database: a geometry object per row costs
    # a third of the batch's time.
    cases = cases_of(export).annotate(
        lon=Func("location", function="ST_X", output_field=FloatField()),
        lat=Func("location", function="ST_Y", output_field=FloatField()),
    )
    return cases.order_by("-pk").values("pk", *fields)


def batches(export: Export, fields: list[str]) -> Iterator[list[dict]]:
    """Newest first, EXPORT_BATCH cases at a time by a keyset on the primary key: one
    batch in memory at once, each query as quick as the first."""
    cases = export_rows(export, fields)
    size, below = settings.EXPORT_BATCH, export.upto + 1
    while True:
        rows = list(cases.filter(pk__lt=below)[:size])
        if not rows:
            return
        yield rows
        below = rows[-1]["pk"]


def _write(export: Export, spool: Path) -> int:
    if export.format == "xlsx" and export.total > XLSX_MAX_ROWS:
        raise ExportError(
            gettext(
                "An Excel sheet holds at most %(max)s rows and this list has %(n)s: export CSV."
            )
            % {"max": f"{XLSX_MAX_ROWS:,}", "n": f"{export.total:,}"}
        )
    table = columns()
    fields = list(dict.fromkeys(f for _, names, _ in table for f in names))
    sink = XlsxSink(spool) if export.format == "xlsx" else CsvSink(spool)
    sink.header([header for header, _, _ in table])
    done = 0
    for rows in batches(export, fields):
        sink.rows([cell(values) for _, _, cell in table] for values in rows)
        done += len(rows)
        _progress(export, done)
    sink.close()
    return done


def _progress(export: Export, done: int) -> None:
    """Progress, and the heartbeat that tells the sweep this run is alive."""
    current = Export.objects.filter(
        pk=export.pk, attempt=export.attempt, status=Export.Status.RUNNING
    ).update(done=done, heartbeat=timezone.now())
    if not current:
        raise Superseded


class CsvSink:
    """UTF-8 with a BOM, so that Excel opens the Chinese correctly."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115 - close()
        self.writer = csv.writer(self.file)

    def header(self, names: list[str]) -> None:
        self.writer.writerow(names)

    def rows(self, rows) -> None:
        self.writer.writerows([csv_safe(v) for v in row] for row in rows)

    def close(self) -> None:
        self.file.close()


class XlsxSink:
    """openpyxl's write-only workbook: rows go to a temporary file as they come, and
    text as inline strings, so neither the rows nor a shared-string table pile up."""

    def __init__(self, path: Path) -> None:
        from openpyxl import Workbook

        self.path = path
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet("cases")

    def header(self, names: list[str]) -> None:
        self.sheet.append(names)

    def rows(self, rows) -> None:
        from openpyxl.cell import WriteOnlyCell

        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(self.sheet, value=value)
                if isinstance(value, str):
                    # Typed as text: openpyxl would store "=…" as a live formula.
                    cell.data_type = "s"
                cells.append(cell)
            self.sheet.append(cells)

    def close(self) -> None:
        self.book.save(self.path)


class _Spooled(File):
    """A finished spool file; FileSystemStorage moves a file that names its path."""

    def temporary_file_path(self) -> str:
        return self.file.name


def _finish(export: Export, spool: Path, rows: int) -> None:
    name = f"exports/{timezone.now():%Y/%m}/cases-{export.pk}.{export.format}"
    with open(spool, "rb") as file:
        stored = default_storage.save(name, _Spooled(file))
    finished = Export.objects.filter(
        pk=export.pk, attempt=export.attempt, status=Export.Status.RUNNING
    ).update(
        status=Export.Status.DONE,
        file=stored,
        done=rows,
        total=rows,
        finished=timezone.now(),
        heartbeat=timezone.now(),
    )
    if not finished:  # started over while the file was being moved: the newer run owns it
        default_storage.delete(stored)


def _fail(export: Export, reason: str) -> None:
    logger.warning("Export %s failed: %s", export.pk, reason)
    Export.objects.filter(pk=export.pk, attempt=export.attempt).update(
        status=Export.Status.FAILED, error=reason[:300], finished=timezone.now()
    )


# ---- exports whose worker died --------------------------------------------------


def recover_stale(now: datetime | None = None) -> int:
    """Start over (or, after EXPORT_ATTEMPTS, fail) every export whose run stopped
    reporting; returns how many. The timer sweep calls it."""
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.EXPORT_STALE_SECONDS)
    # Running with a heartbeat that stopped; or queued, its job claimed by a worker
    # that died before the run's first step, or ended (failed) before that step
    # could claim the export: nobody would ever run it, and it would say "queued".
    claimed_long_ago = DBTaskResult.objects.filter(status="RUNNING", started_at__lt=cutoff)
    ended = DBTaskResult.objects.filter(status__in=["FAILED", "SUCCESSFUL"])
    stale = (
        Q(status=Export.Status.RUNNING, heartbeat__lt=cutoff)
        | Q(status=Export.Status.QUEUED, task_id__in=claimed_long_ago.values("id"))
        | Q(status=Export.Status.QUEUED, task_id__in=ended.values("id"))
    )
    recovered = 0
    with transaction.atomic():
        for export in Export.objects.select_for_update(skip_locked=True).filter(stale):
            _abandon_job(export, now)
            _start_over(export)
            recovered += 1
    return recovered


def _abandon_job(export: Export, now: datetime) -> None:
    """The dead worker's job row would say RUNNING for ever: record what happened."""
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(id=export.task_id, status="RUNNING").update(
        status="FAILED",
        finished_at=now,
        exception_class_path="cases.exports.WorkerLost",
        traceback="The worker stopped reporting progress; the export was started over or failed.",
    )


def _start_over(export: Export) -> None:
    with translation.override(export.language):
        if export.attempt + 1 >= settings.EXPORT_ATTEMPTS:
            reason = gettext(
                "The export stopped %(n)s times before it finished (its worker was stopped "
                "or lost). Start it again; if it keeps stopping, export fewer cases."
            ) % {"n": export.attempt + 1}
            logger.warning("Export %s given up: %s", export.pk, reason)
            export.status, export.error, export.finished = (
                Export.Status.FAILED,
                reason,
                timezone.now(),
            )
            export.save(update_fields=["status", "error", "finished"])
            return
    logger.warning("Export %s: its worker stopped; starting it over", export.pk)
    export.attempt += 1
    export.status, export.done, export.heartbeat = Export.Status.QUEUED, 0, None
    export.save(update_fields=["attempt", "status", "done", "heartbeat"])
    _enqueue(export)
