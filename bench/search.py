"""The case search page at city scale: server time and queries of a filtered first page.

    DATABASE_URL=postgis://…/gridcase_bench .venv/bin/python bench/search.py

On the citygen dataset (docs/benchmarks.md), a leader of the street with the
most cases opens /cases/search/ with a few typical filters and text searches;
each page is requested REPEAT times through Django's test client (server
time: the view, its queries and the template, no network) after one warm-up,
and p50/p95 and the page's query count are printed. **Baseline**: the same
page's (capped) count and rows as the ORM compiled them, run on a cursor: the
database's share. The page counts at most CappedPaginator.COUNT_CAP cases
("> 1,000" below). A district administrator's and the city superuser's pages
follow for comparison (the target is the street leader's).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

from common import machine, percentile, person, quiet_collector, timer  # noqa: I001
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import services
from cases.models import Case
from cases.search import CappedPaginator, SearchForm
from grid.models import Role, Street
from grid.territory import Territory

REPEAT = 20


def pages(street: Street) -> list[tuple[str, dict]]:
    community = street.communities.order_by("code").first()
    month_ago = (timezone.localdate() - timedelta(days=30)).isoformat()
    return [
        ("everything, newest first", {}),
        ("overdue, deadline soonest", {"deadline": "overdue", "sort": "due"}),
        ("a community's 物业/房屋 cases", {"community": community.code, "group": "02"}),
        ("on-site handling, urged", {"state": "onsite", "supervised": "yes"}),
        ("reported in the last 30 days", {"since": month_ago}),
        ("text: 漏水 (2 characters)", {"q": "漏水"}),
        ("text: 卫生间漏水 (5)", {"q": "卫生间漏水"}),
        ("text: 和平大道1 (address, 5)", {"q": "和平大道1"}),
        ("text: part of a number", {"q": "0001234"}),
        ("text + filter: 楼道 and overdue", {"q": "楼道", "deadline": "overdue"}),
    ]


def page_time(client: Client, params: dict) -> tuple[list[float], list[float], int]:
    """Server times of REPEAT requests, this process's CPU time for each (the
    machine's other load does not count in it), and the page's query count."""
    response = client.get("/cases/search/", params)  # warm-up: territory, reference data
    assert response.status_code == 200, (params, response.status_code)
    times: list[float] = []
    cpu: list[float] = []
    for _ in range(REPEAT):
        start = time.process_time()
        with timer(times):
            response = client.get("/cases/search/", params)
        cpu.append(time.process_time() - start)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/cases/search/", params)
    assert response.status_code == 200
    return times, cpu, len(queries)


def database_time(user, params: dict) -> tuple[list[float], int]:
    """The page's count and its first 50 rows as the ORM compiles them, run on a cursor;
    and the count."""
    territory = Territory.for_user(user)
    form = SearchForm(params, territory=territory)
    assert form.is_valid(), form.errors
    cases = form.sorted(services.filtered_cases(user, form.filters(), territory=territory))
    rows = cases.select_related("category__parent", "community", "cell", "department")[:50]
    capped = cases.order_by().values("pk")[: CappedPaginator.COUNT_CAP + 1]
    count_sql = capped.query.sql_with_params()
    rows_sql = rows.query.sql_with_params()
    times: list[float] = []
    with connection.cursor() as cursor:
        for _ in range(REPEAT):
            with timer(times):
                cursor.execute(f"SELECT COUNT(*) FROM ({count_sql[0]}) AS c", count_sql[1])
                found = cursor.fetchone()[0]
                cursor.execute(*rows_sql)
                cursor.fetchall()
    return times, found


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} / {percentile(values, 0.95) * 1000:.0f} ms"


def main() -> None:
    global REPEAT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT)
    REPEAT = parser.parse_args().repeat
    street = Street.objects.annotate(n=Count("case")).order_by("-n").first()
    viewers = {
        "street leader": person("bench-leader", Role.LEADER, street=street),
        "district admin": person("bench-district", Role.ADMINISTRATOR, district=street.district),
        "city superuser": get_user_model().objects.update_or_create(
            username="bench-city", defaults={"is_superuser": True, "is_staff": True}
        )[0],
    }
    quiet_collector()
    print(f"# Case search — {machine()}")
    print(
        f"{Case.objects.count():,} cases; busiest street {street.code} with "
        f"{Case.objects.filter(street=street).count():,}; p50 / p95 of {REPEAT}\n"
    )
    print(
        "| viewer | first page | cases found | queries | server time | of it Django's CPU "
        "| **baseline**: its SQL |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, user in viewers.items():
        client = Client()
        client.force_login(user)
        chosen = (
            pages(street) if name == "street leader" else pages(street)[:1] + pages(street)[5:7]
        )
        for label, params in chosen:
            times, cpu, queries = page_time(client, params)
            baseline, found = database_time(user, params)
            shown = f"> {found - 1:,}" if found > CappedPaginator.COUNT_CAP else f"{found:,}"
            print(
                f"| {name} | {label} | {shown} | {queries} | {ms(times)} | {ms(cpu)} "
                f"| {ms(baseline)} |"
            )


if __name__ == "__main__":
    main()
