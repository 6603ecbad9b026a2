"""The export worker's memory and time on a large export: idle RSS, peak RSS, rows.

    createdb -h 127.0.0.1 -U postgres gc_bench_exports
    psql -h 127.0.0.1 -U postgres -d gc_bench_exports -c 'CREATE EXTENSION postgis'
    export DATABASE_URL=postgis://postgres@127.0.0.1:5432/gc_bench_exports
    .venv/bin/python manage.py migrate
    .venv/bin/python bench/export_memory.py --cases 1000000 --format csv

With fewer cases in the database than --cases, it first generates them with
bench/citygen.py (2,000 cells, 5 % of them open); otherwise it reuses them.
An administrator of the dataset's district asks for everything they see, as
`POST /api/v1/exports/` would (export_start, in Chinese); a real
`manage.py db_worker` process writes the file. Idle RSS is the worker's
resident memory once it is up and waiting, peak its high-water mark (VmHWM)
when the export is done; RSS is also sampled against rows written, to show
growth per 100,000 rows. Drop the database afterwards (dropdb).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, machine, person  # noqa: I001
from django.utils import translation

from cases.exports import export_start
from cases.models import Case, Export
from cases.services import visible_cases
from grid.models import District, Role


def status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def ensure_cases(n: int) -> int:
    have = Case.objects.count()
    if have >= n:
        return have
    if have:
        sys.exit(f"{have:,} cases here, fewer than {n:,}: use an empty database or --cases {have}")
    n_open = n // 20
    print(f"generating {n:,} cases with bench/citygen.py …", flush=True)
    subprocess.run(
        [
            sys.executable,
            "bench/citygen.py",
            "--cells",
            "2000",
            "--open",
            str(n_open),
            "--closed",
            str(n - n_open),
        ],
        cwd=ROOT,
        check=True,
    )
    return Case.objects.count()


def requester():
    """Someone who sees every case of the dataset: its first district's administrator."""
    district = District.objects.order_by("pk").first()
    return person("bench-exporter", Role.ADMINISTRATOR, district=district)


def start_export(user, fmt: str) -> Export:
    with translation.override("zh-hans"):
        return export_start(user=user, fmt=fmt, filters={}, cases=visible_cases(user))


def baseline(export: Export) -> tuple[int, float]:
    """The database alone: the same rows and columns as one COPY … TO STDOUT (CSV),
    read and discarded, no labels or formatting; returns (bytes, seconds)."""
    from django.db import connection

    from cases.exports import columns, export_rows

    fields = list(dict.fromkeys(f for _, names, _ in columns() for f in names))
    sql, params = export_rows(export, fields).query.sql_with_params()
    size, started = 0, time.monotonic()
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as cp,
    ):
        for block in cp:
            size += len(block)
    return size, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--media", default=str(ROOT / "var" / "bench-media"))
    args = parser.parse_args()

    cases = ensure_cases(args.cases)
    user = requester()
    env = os.environ | {"MEDIA_ROOT": args.media, "DEBUG": "false"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--no-reload",
            "--no-startup-delay",
            "--interval",
            "0.2",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Up and waiting: it says so once it has loaded Django and looked at the queue.
        for line in worker.stdout:
            if "Starting worker" in line:
                break
        time.sleep(2)  # a benchmark's settling time, not a test's wait
        idle = status(worker.pid)["VmRSS"]
        started = time.monotonic()
        export = start_export(user, args.format)
        samples = []
        while True:
            export.refresh_from_db()
            samples.append((export.done, status(worker.pid)["VmRSS"]))
            if export.status in (Export.Status.DONE, Export.Status.FAILED):
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        peak = status(worker.pid)["VmHWM"]
    finally:
        worker.terminate()
        worker.wait(timeout=60)

    size = Path(args.media, export.file.name).stat().st_size if export.file else 0
    copied, copy_seconds = baseline(export)
    print(f"machine: {machine()}")
    print(f"command: {' '.join(sys.argv)}  (DATABASE_URL={os.environ.get('DATABASE_URL', '')})")
    print(f"cases in the database: {cases:,}; export {export.pk}: {export.status} {export.error}")
    print(f"rows {export.done:,} in {elapsed:.0f} s ({export.done / elapsed:,.0f} rows/s)")
    print(f"file {size / 2**20:.0f} MiB ({args.format})")
    print(
        f"baseline, the same rows as one COPY to CSV: {copy_seconds:.0f} s "
        f"({export.done / copy_seconds:,.0f} rows/s), {copied / 2**20:.0f} MiB"
    )
    print(
        f"worker RSS idle {idle / 1024:.0f} MB, peak {peak / 1024:.0f} MB, "
        f"growth {(peak - idle) / 1024:.0f} MB"
    )
    print("RSS by rows written (MB):")
    step = 100_000
    mark = 0
    for done, rss in samples:
        if done >= mark:
            print(f"  {done:>9,} rows  {rss / 1024:6.0f}")
            mark = (done // step + 1) * step


if __name__ == "__main__":
    main()
