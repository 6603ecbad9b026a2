"""Intake: reports per second and latency through the real HTTP API, beside a raw baseline.

    DATABASE_URL=postgis://…/gridcase_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/intake.py --requests 1000 --clients 32

One daphne process (`manage.py serve`) on the database; CLIENTS threads post
reports with API tokens. The baseline writes the same rows (a case and its
timeline entry, with the case number and sequence counters) in one
hand-written psycopg transaction each, from the same number of threads.
Peak RSS of the web process is read from /proc.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from common import machine, person, summary
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


def through_api(url: str, tokens: list[str], points, n: int, clients: int) -> tuple[list, float]:
    latencies: list[float] = []
    lock = threading.Lock()

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
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 201, response.status
        with lock:
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(n)))
    return latencies, time.perf_counter() - start


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
                " reported_at, updated) VALUES (%s, %s, 'general', false, %s, '',"
                " ST_SetSRID(ST_MakePoint(114.3, 30.5), 4326), %s, %s, %s, 'api', '', '',"
                " 'triage', '', 0, 0, '', '', '', 'green', false, now(), now()) RETURNING id",
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
    args = parser.parse_args()
    from cases.models import Category, EventSequence
    from tests.live import live_server

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
    EventSequence.objects.get_or_create(pk=1)
    category = Category.objects.get(code="0401")
    connection.close()

    print(f"# Intake — {machine()}\n")
    print(f"{args.requests} reports, {args.clients} concurrent clients\n")
    with live_server(
        TIMERS="off",
        DEBUG="false",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
    ) as url:
        pid = url.pid
        through_api(url, tokens, points, 50, args.clients)  # warm up
        latencies, seconds = through_api(url, tokens, points, args.requests, args.clients)
        rss = peak_rss_mb(pid) if pid else None
    print("| path | reports/s | latency |")
    print("|---|---|---|")
    print(
        f"| HTTP API (daphne, one process) | {args.requests / seconds:.0f} | {summary(latencies)} |"
    )
    raw, raw_seconds = raw_baseline(street, cells[0], category.pk, args.requests, args.clients)
    print(
        f"| hand-written psycopg transaction | {args.requests / raw_seconds:.0f} | {summary(raw)} |"
    )
    if rss:
        print(f"\nPeak RSS of the web process: {rss:.0f} MB")


if __name__ == "__main__":
    main()
