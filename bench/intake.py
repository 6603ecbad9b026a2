"""Intake: reports per second and latency through the real HTTP API, beside a raw baseline.

    DATABASE_URL=postgis://…/gridcase_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/intake.py --requests 1000 --clients 32 --workers 2

The production server (gunicorn with N uvicorn workers, tests/live.py) on the
database; CLIENTS threads post reports with API tokens, two ways:

- closed loop: each client sends its next report when the last is answered
  (the most the server takes; latency = clients / throughput);
- open loop at --rate reports/s: reports are due at fixed times and latency
  counts from the due time, so a server that falls behind is charged for
  the wait (no coordinated omission).

The baseline writes the same rows (a case and its timeline entry, with the
case number and sequence counters) in one hand-written psycopg transaction
each, from the same number of threads. Peak RSS of each web worker is read
from /proc, and so is the CPU time a report costs the web workers and
PostgreSQL in the closed loop: steadier than reports/s on a machine whose
speed varies. To compare two versions of the code, run their checkouts in
turns with --rounds 3 and compare CPU per report.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from common import PRODUCTION_LIKE, machine, person, quiet_collector, summary
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from grid.models import CellAssignment, GridCell, Post, Role, Street


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        lines = status.read().splitlines()
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """User and system CPU seconds the processes have used so far (one gone
    meanwhile, such as another session's test backend, counts nothing)."""
    user = system = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])
        system += int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def postgres_pids(database: str | None = None) -> list[int]:
    """PostgreSQL's processes on this machine (the server and its backends), or
    only the backends connected to `database` (others may run tests meanwhile)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if database is None or f" {database} " in title:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


class CPUMeter:
    """CPU time per report of the web workers and of PostgreSQL, from /proc.

    Steadier than reports/s on a machine whose speed varies: the work a report
    costs, not how fast the machine did it. PostgreSQL's figure counts the
    backends of this database that live through the round (the server's pools
    keep theirs); every backend on the machine is printed beside it.
    """

    def __init__(self, workers: list[int]):
        self.workers = workers
        self.database = settings.DATABASES["default"]["NAME"]

    def __enter__(self) -> CPUMeter:
        self.web = cpu_seconds(self.workers)
        self.db = sum(cpu_seconds(postgres_pids()))
        self.ours = {pid: sum(cpu_seconds([pid])) for pid in postgres_pids(self.database)}
        return self

    def __exit__(self, *exc) -> None:
        user, system = cpu_seconds(self.workers)
        self.user = user - self.web[0]
        self.system = system - self.web[1]
        self.postgres = sum(cpu_seconds(postgres_pids())) - self.db
        alive = set(self.ours) & set(postgres_pids(self.database))
        self.postgres_ours = sum(sum(cpu_seconds([pid])) - self.ours[pid] for pid in alive)

    def per_report(self, n: int) -> str:
        return (
            f"web workers {1000 * (self.user + self.system) / n:.1f} ms "
            f"(user {1000 * self.user / n:.1f}, system {1000 * self.system / n:.1f}), "
            f"PostgreSQL {1000 * self.postgres_ours / n:.1f} ms "
            f"(all of PostgreSQL {1000 * self.postgres / n:.1f} ms)"
        )


def reporters():
    """The first street, 20 of its cells, eight grid workers' tokens there and a point
    in each of the cells."""
    street = Street.objects.order_by("pk").first()
    cells = list(GridCell.objects.filter(community__street=street)[:20])
    tokens = []
    for i in range(8):
        worker = person(f"bench-intake-{i}", Role.GRID_WORKER, community=cells[0].community)
        Post.objects.get_or_create(user=worker, role=Role.COORDINATOR, street=street)
        CellAssignment.objects.get_or_create(worker=worker, cell=cells[i % len(cells)])
        tokens.append(Token.objects.get_or_create(user=worker)[0].key)
    rng = random.Random(5)
    points = []
    for cell in cells:
        x0, y0, x1, y1 = cell.boundary.extent
        points.append((rng.uniform(x0, x1), rng.uniform(y0, y1)))
    return street, cells, tokens, points


def through_api(
    url: str,
    tokens: list[str],
    points,
    n: int,
    clients: int,
    rate: float | None = None,
    keep_alive: bool = False,
) -> tuple[list, float]:
    """Reports through the API: a new connection each, or one kept per client."""
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()
    address = urlsplit(url)
    begin = time.perf_counter() + 0.1

    def one(i: int) -> None:
        lon, lat = points[i % len(points)]
        body = json.dumps(
            {
                "category": "0401",
                "description": f"基准上报{i}",
                "lon": lon,
                "lat": lat,
                "client_id": f"bench-{time.time_ns()}-{i}",
            }
        ).encode()
        request = urllib.request.Request(
            url + "/api/v1/cases/",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Token {tokens[i % len(tokens)]}",
            },
        )
        if rate:
            due = begin + i / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            start = due
        else:
            start = time.perf_counter()
        if keep_alive:
            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
            local.conn.request("POST", "/api/v1/cases/", body=body, headers=request.headers)
            response = local.conn.getresponse()
            response.read()
            assert response.status == 201, response.status
        else:
            with urllib.request.urlopen(request, timeout=60) as response:
                assert response.status == 201, response.status
        with lock:
            latencies.append(time.perf_counter() - start)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(n)))
    return latencies, time.perf_counter() - begin


def raw_baseline(street, cell, category_id: int, n: int, clients: int) -> tuple[list, float]:
    import psycopg

    db = settings.DATABASES["default"]
    dsn = (
        f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']} "
        f"user={db['USER']}"
    )
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def one(i: int) -> None:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(dsn)
        start = time.perf_counter()
        with local.conn.transaction(), local.conn.cursor() as cur:
            cur.execute(
                "UPDATE cases_eventsequence SET last = last + 1 WHERE id = 1 RETURNING last"
            )
            seq = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO cases_case (number, category_id, urgency, major_hazard, description,"
                " address, location, street_id, community_id, cell_id, source, reporter_name,"
                " reporter_phone, state, handling_step, reopen_count, visit_reopens,"
                " satisfaction, closure_reason, closure_note, deadline_state, supervised,"
                " reported_at, updated, access_code, reporter_consent, resident_satisfaction,"
                " resident_words, supporter_count) VALUES (%s, %s, 'general', false, %s, '',"
                " ST_SetSRID(ST_MakePoint(114.3, 30.5), 4326), %s, %s, %s, 'api', '', '',"
                " 'triage', '', 0, 0, '', '', '', 'green', false, now(), now(), '', false, '',"
                " '', 0) RETURNING id",
                [
                    f"R{time.time_ns()}{i}",
                    category_id,
                    f"基准{i}",
                    street.pk,
                    cell.community_id,
                    cell.pk,
                ],
            )
            case_id = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO cases_timelineentry (seq, case_id, street_id, community_id,"
                " cell_id, at, action, from_state, to_state, note, data) VALUES"
                " (%s, %s, %s, %s, %s, now(), 'reported', '', 'triage', '', '{}')",
                [seq, case_id, street.pk, cell.community_id, cell.pk],
            )
        with lock:
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(n)))
    return latencies, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="closed-loop rounds, each with its reports/s and CPU per report "
        "(to compare two checkouts, run them in turns)",
    )
    args = parser.parse_args()
    from cases.models import Category, EventSequence
    from tests.live import live_server, workers_of

    street, cells, tokens, points = reporters()
    EventSequence.objects.get_or_create(pk=1)
    category = Category.objects.get(code="0401")
    connection.close()

    print(f"# Intake — {machine()}\n")
    print(f"{args.requests} reports, {args.clients} concurrent clients, {args.workers} workers\n")
    # Eight tokens stand in for a city's grid workers, each of whom reports a
    # few times an hour: the per-token limit (1,200/min) is not what is measured,
    # and at 150 reports/s eight tokens would reach it.
    with live_server(
        workers=args.workers,
        **PRODUCTION_LIKE,
        API_RATE="1000000/min",
    ) as url:
        through_api(url, tokens, points, 100, args.clients)  # warm up every worker
        quiet_collector()
        workers = workers_of(url.pid)
        rounds = []
        for _ in range(args.rounds):
            with CPUMeter(workers) as cpu:
                closed, seconds = through_api(url, tokens, points, args.requests, args.clients)
            rounds.append((args.requests / seconds, cpu.per_report(args.requests)))
        kept, kept_seconds = through_api(
            url, tokens, points, args.requests, args.clients, keep_alive=True
        )
        opened, open_seconds = through_api(
            url, tokens, points, args.requests, args.clients, rate=args.rate
        )
        rss = [peak_rss_mb(pid) for pid in workers]
    server = f"gunicorn + uvicorn × {args.workers}"
    print("| path | reports/s | latency |")
    print("|---|---|---|")
    closed_rate = args.requests / seconds
    print(f"| HTTP API ({server}), closed loop | {closed_rate:.0f} | {summary(closed)} |")
    print(
        f"| HTTP API ({server}), closed loop, a connection kept per client | "
        f"{args.requests / kept_seconds:.0f} | {summary(kept)} |"
    )
    print(
        f"| HTTP API ({server}), offered {args.rate:.0f}/s | "
        f"{args.requests / open_seconds:.0f} | {summary(opened)} |"
    )
    raw, raw_seconds = raw_baseline(street, cells[0], category.pk, args.requests, args.clients)
    print(
        f"| hand-written psycopg transaction | {args.requests / raw_seconds:.0f} | {summary(raw)} |"
    )
    print("\nPeak RSS per web worker: " + ", ".join(f"{r:.0f} MB" for r in rss))
    print("\nCPU per report, closed loop:")
    for i, (rate, cpu) in enumerate(rounds, 1):
        print(f"- round {i}: {rate:.0f} reports/s; {cpu}")


if __name__ == "__main__":
    main()
