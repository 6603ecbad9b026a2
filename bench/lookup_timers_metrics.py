"""Point → cell lookup, the deadline sweep and the metrics query on the city dataset.

    DATABASE_URL=postgis://…/gridcase_bench .venv/bin/python bench/lookup_timers_metrics.py

Each figure is printed beside a raw baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import datetime, timedelta

# One client asks thousands of times a minute here; the per-token limit is not what is measured.
os.environ.setdefault("API_RATE", "1000000/min")

from common import PRODUCTION_LIKE, machine, person, quiet_collector, summary, timer  # noqa: I001
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import QuerySet
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cases import services
from cases.metrics import metrics
from cases.models import OPEN_STATES, Case
from grid.locate import locate
from grid.models import GridCell, Role, Street

N_POINTS = 2000


def random_points(rng: random.Random, n: int) -> list[Point]:
    cells = list(GridCell.objects.values_list("boundary", flat=True)[:: max(1, 20000 // n)])
    points = []
    for boundary in cells[:n]:
        bx0, by0, bx1, by1 = boundary.extent
        points.append(Point(rng.uniform(bx0, bx1), rng.uniform(by0, by1), srid=4326))
    return points


def lookup(rng: random.Random) -> None:
    points = random_points(rng, N_POINTS)
    db_times, api_times, raw_times = [], [], []
    with connection.cursor() as cursor:
        for p in points:
            with timer(raw_times):
                cursor.execute(
                    "SELECT code FROM grid_gridcell WHERE ST_Intersects(boundary, "
                    "ST_SetSRID(ST_MakePoint(%s, %s), 4326)) ORDER BY code LIMIT 1",
                    [p.x, p.y],
                )
                cursor.fetchone()
    # First sight of each cell loads it into the process's cache; later lookups
    # of the same cells are what a running server mostly does.
    cold_times: list[float] = []
    for p in points:
        with timer(cold_times):
            locate(p)
    for p in points:
        with timer(db_times):
            locate(p)
    street = Street.objects.order_by("pk").first()
    user = person("bench-city", Role.ADMINISTRATOR, district=street.district)
    token = Token.objects.get_or_create(user=user)[0].key
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    # The district administrator's own points: each answer is a 200 with the cell.
    mine = [p for p in points if locate(p).street.district_id == street.district_id]
    mine = (mine * (1000 // max(len(mine), 1) + 1))[:1000]
    for p in mine:
        with timer(api_times):
            response = client.get(f"/api/v1/territory/locate/?lon={p.x}&lat={p.y}")
        assert response.status_code == 200, response.content
    http_first, http_seen = over_http(token, mine)
    print("## Point → cell lookup over", f"{GridCell.objects.count():,} cells\n")
    print(f"- raw SQL (ST_Intersects, spatial index): {summary(raw_times)}")
    print(f"- grid.locate.locate(), each cell's first lookup: {summary(cold_times)}")
    print(f"- grid.locate.locate(), cells seen before: {summary(db_times)}")
    print(f"- API /api/v1/territory/locate/ with a token, server time: {summary(api_times)}")
    print(
        "- the same over HTTP (gunicorn + uvicorn × 1, one keep-alive client), first pass "
        f"(most cells new to the server): {summary(http_first)}"
    )
    print(f"- the same over HTTP, cells seen before: {summary(http_seen)}\n")


def over_http(token: str, points: list[Point]) -> tuple[list[float], list[float]]:
    """Round trips to a real server, one connection, one request at a time.

    Two passes over the same points: in the first, most cells are new to the
    server's process (it reads each from the database once); the second is a
    running server's usual case, cells it has seen before.
    """
    import http.client
    from urllib.parse import urlsplit

    from django.db import connections

    from tests.live import live_server

    connections.close_all()
    first: list[float] = []
    seen: list[float] = []
    # The rate limit is counted as usual, but set above the benchmark's pace:
    # a 429 would be a fast answer and flatter the figures.
    with live_server(**PRODUCTION_LIKE, API_RATE="100000/min") as url:
        address = urlsplit(url)
        conn = http.client.HTTPConnection(address.hostname, address.port)
        headers = {"Authorization": f"Token {token}"}
        quiet_collector()
        for times in (first, seen):
            for p in points:
                start = time.perf_counter()
                conn.request(
                    "GET", f"/api/v1/territory/locate/?lon={p.x}&lat={p.y}", headers=headers
                )
                response = conn.getresponse()
                body = response.read()
                times.append(time.perf_counter() - start)
                assert response.status == 200, (response.status, body)
        conn.close()
    return first[50:], seen  # the first 50 also warm up the process itself


# What the sweep benchmark changes on a case and puts back when it is done.
CLOCKS = ("deadline_check_at", "deadline_state", "step_warn_at", "step_due", "supervised")


def sweep() -> None:
    print(
        "## Deadline sweep with",
        f"{Case.objects.filter(state__in=OPEN_STATES).count():,}",
        "open cases\n",
    )
    future = timezone.now() + timedelta(days=3650)
    open_cases = Case.objects.filter(state__in=OPEN_STATES)
    # Every clock the loop touches is put back afterwards, so the map and
    # metrics benchmarks that follow see the dataset's own deadline colours.
    # The sweep's near_deadline timeline entries stay: the log is append-only
    # and gap-free (a map resumes from its cursor), as on a real server.
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE bench_clocks AS SELECT id, {', '.join(CLOCKS)} "
            "FROM cases_case WHERE state = ANY(%s)",
            [list(OPEN_STATES)],
        )
    try:
        open_cases.update(deadline_check_at=future, deadline_state="green")
        print("| due steps | sweep | per due step | raw baseline (UPDATE … WHERE due) |")
        print("|---|---|---|---|")
        for due in (0, 100, 1000, 10000):
            sweep_once(open_cases, due, future)
        print()
    finally:
        restore_clocks()


def sweep_once(open_cases: QuerySet[Case], due: int, future: datetime) -> None:
    now = timezone.now()
    ids = list(open_cases.order_by("?").values_list("pk", flat=True)[:due])
    Case.objects.filter(pk__in=ids).update(
        deadline_check_at=now - timedelta(minutes=1),
        step_warn_at=now - timedelta(minutes=1),
        step_due=now + timedelta(days=1),
    )
    start = time.perf_counter()
    changed = 0
    while True:
        n = services.deadline_sweep(now=now, batch=500)
        changed += n
        if n == 0:
            break
    seconds = time.perf_counter() - start
    Case.objects.filter(pk__in=ids).update(
        deadline_check_at=now - timedelta(minutes=1), deadline_state="green"
    )
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_case SET deadline_state = 'yellow' "
            "WHERE deadline_check_at <= %s AND deadline_state = 'green'",
            [now],
        )
    raw = time.perf_counter() - start
    # The raw UPDATE leaves yellow rows checked early; don't leave them behind.
    Case.objects.filter(pk__in=ids).update(deadline_check_at=future, deadline_state="green")
    per = f"{seconds / due * 1000:.2f} ms" if due else "—"
    print(
        f"| {due:,} | {seconds * 1000:.0f} ms ({changed:,} changed) | {per} | {raw * 1000:.0f} ms |"
    )


def restore_clocks() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_case c SET "
            + ", ".join(f"{col} = b.{col}" for col in CLOCKS)
            + " FROM bench_clocks b WHERE c.id = b.id"
        )
        cursor.execute("DROP TABLE bench_clocks")
        # Every update above left a dead row version; without this the next
        # benchmark (metrics, map) reads through ~300,000 of them until
        # autovacuum comes by, and measures 2-4 times slower.
        cursor.execute("VACUUM (ANALYZE) cases_case")


def metrics_query() -> None:
    street = Street.objects.order_by("pk").first()
    end = timezone.now()
    start = end - timedelta(days=30)
    leader = person("bench-leader-m", Role.LEADER, street=street)
    times, raw = [], []
    for _ in range(5):
        with timer(times):
            metrics(services.visible_cases(leader), start=start, end=end, group="street")
    with connection.cursor() as cursor:
        for _ in range(5):
            with timer(raw):
                cursor.execute(
                    "SELECT count(*), count(*) FILTER (WHERE triaged_at <= triage_due), "
                    "count(*) FILTER (WHERE state = 'closed'), "
                    "count(*) FILTER (WHERE satisfaction IN ('satisfied', 'basic')) "
                    "FROM cases_case WHERE street_id = %s AND reported_at >= %s "
                    "AND reported_at < %s",
                    [street.pk, start, end],
                )
                cursor.fetchall()
    print("## Metrics (三率) for a street over a month\n")
    print(f"- cases.metrics.metrics(): median {statistics.median(times) * 1000:.0f} ms")
    print(f"- one hand-written SQL aggregate: median {statistics.median(raw) * 1000:.0f} ms\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["lookup", "metrics", "sweep"])
    only = parser.parse_args().only
    print(f"# Lookup, timers, metrics — {machine()}\n")
    if only in (None, "lookup"):
        lookup(random.Random(3))
    if only in (None, "metrics"):
        metrics_query()
    if only in (None, "sweep"):
        sweep()


if __name__ == "__main__":
    main()
