"""The live map's first view at city scale: server time and payload size.

    DATABASE_URL=postgis://…/gridcase_bench .venv/bin/python bench/map_first_view.py

The first view is what map.js fetches before it draws: boundaries.json,
snapshot.json (with the viewport's bbox; cells=0 where the territory is too
large to draw its cells at that zoom, as map.js asks) and stats.json, through
Django's test client (server time, no network), for a street leader, a
district administrator and a city-wide superuser. Each is requested once cold
(the process's cached shapes dropped), then REPEAT times: the cold time, the
median, this process's median CPU time and the bytes are printed; then the
city's stats over 30 whole days, as they are at a month's end. Then what
the city superuser's map asks when panning at street zoom (a 1440×900 window
at zoom 14 around the busiest street, and one window to either side):
cells.json, communities.json and snapshot.json.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from common import machine, person, timer  # noqa: I001
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from cases import mapdata
from cases.calendar import CHINA
from cases.models import OPEN_STATES, Case
from grid.models import District, Role, Street

REPEAT = 9


def measure(client: Client, url: str) -> tuple[float, float, float, int]:
    """(cold, median, CPU, bytes): the first request, then the median of REPEAT, and
    the median CPU time this process (Django) spent on one: steadier than the wall
    clock when other work shares the cores; PostgreSQL's time is not in it."""
    times: list[float] = []
    cpu: list[float] = []
    size = 0
    for _ in range(REPEAT + 1):
        start = time.process_time()
        with timer(times):
            response = client.get(url)
        cpu.append(time.process_time() - start)
        assert response.status_code == 200, (url, response.status_code)
        size = len(response.content)
    return times[0], statistics.median(times[1:]), statistics.median(cpu[1:]), size


# A 1440×900 window at zoom 14, in degrees at 30.5°N (256-pixel tiles).
VIEW_W = 1440 * 360 / 2**14 / 256
VIEW_H = 900 * 360 / 2**14 / 256 * 0.862


def main() -> None:
    street = Street.objects.annotate(n=Count("case")).order_by("-n").first()
    district = street.district
    viewers = {
        "street leader": person("bench-leader", Role.LEADER, street=street),
        "district admin": person("bench-district", Role.ADMINISTRATOR, district=district),
        "city superuser": get_user_model().objects.update_or_create(
            username="bench-city", defaults={"is_superuser": True, "is_staff": True}
        )[0],
    }
    open_total = Case.objects.filter(state__in=OPEN_STATES).count()
    print(f"# Map first view — {machine()}")
    print(
        f"open cases {open_total:,}; districts {District.objects.count()}; "
        f"busiest street {street.code} with "
        f"{Case.objects.filter(street=street, state__in=OPEN_STATES).count():,} open\n"
    )
    print("| viewer | request | cold | median | Django CPU | payload |")
    print("|---|---|---|---|---|---|")
    x0, y0, x1, y1 = street.boundary.extent
    for name, user in viewers.items():
        client = Client()
        client.force_login(user)
        if name == "street leader":
            bbox = f"{x0},{y0},{x1},{y1}"
        else:
            bx0, by0, bx1, by1 = (
                district.boundary.extent if name == "district admin" else (113, 29, 116, 32)
            )
            bbox = f"{bx0},{by0},{bx1},{by1}"
        total = cold_total = cpu_total = 0.0
        total_size = 0
        # Mirrors map.js: without all its cells in boundaries.json, a map zoomed out
        # draws none and asks for no cell counts.
        cells = "" if client.get("/map/boundaries.json").json()["cells"] else "&cells=0"
        mapdata._shapes.clear()  # the cold run starts without the cached shapes
        for label, url in (
            ("boundaries", "/map/boundaries.json"),
            ("snapshot", f"/map/snapshot.json?bbox={bbox}{cells}"),
            ("stats", "/map/stats.json"),
        ):
            cold, seconds, cpu, size = measure(client, url)
            total += seconds
            cold_total += cold
            cpu_total += cpu
            total_size += size
            print(
                f"| {name} | {label} | {cold * 1000:.0f} ms | {seconds * 1000:.0f} ms "
                f"| {cpu * 1000:.0f} ms | {size / 1024:.0f} KiB |"
            )
        print(
            f"| {name} | **first view** | {cold_total * 1000:.0f} ms "
            f"| **{total * 1000:.0f} ms** | {cpu_total * 1000:.0f} ms "
            f"| **{total_size / 1024:.0f} KiB** |"
        )
    month_end(viewers["city superuser"])
    pan(viewers["city superuser"], street)


def month_end(user) -> None:
    """The stats strip grows through the month: the city's over 30 whole days."""
    now = timezone.now()
    start = (now.astimezone(CHINA) - timedelta(days=30)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    times: list[float] = []
    for _ in range(REPEAT):
        with timer(times):
            mapdata.stats(user, start=start)
    reported = Case.objects.filter(reported_at__gte=start).count()
    print(
        f"\nCity stats over 30 days ({reported:,} cases reported), as at a month's end: "
        f"median {statistics.median(times) * 1000:.0f} ms (mapdata.stats, no HTTP)"
    )


def pan(user, street) -> None:
    """The city superuser's map zoomed in to street level, at three places."""
    client = Client()
    client.force_login(user)
    print("\n| city superuser at zoom 14 | request | cold | median | Django CPU | payload |")
    print("|---|---|---|---|---|---|")
    cx, cy = street.boundary.centroid.coords
    for dx in (-VIEW_W, 0, VIEW_W):
        x0, y0 = cx + dx - VIEW_W / 2, cy - VIEW_H / 2
        bbox = f"{x0:.6f},{y0:.6f},{x0 + VIEW_W:.6f},{y0 + VIEW_H:.6f}"
        for label, url in (
            ("cells", f"/map/cells.json?bbox={bbox}"),
            ("communities", f"/map/communities.json?bbox={bbox}"),
            ("snapshot", f"/map/snapshot.json?bbox={bbox}"),
        ):
            cold, seconds, cpu, size = measure(client, url)
            print(
                f"| {dx / VIEW_W:+.0f} view | {label} | {cold * 1000:.0f} ms "
                f"| {seconds * 1000:.0f} ms | {cpu * 1000:.0f} ms | {size / 1024:.0f} KiB |"
            )


if __name__ == "__main__":
    main()
