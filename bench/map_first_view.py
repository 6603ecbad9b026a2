"""The live map's first view at city scale: server time and payload size.

    DATABASE_URL=postgis://…/gridcase_bench .venv/bin/python bench/map_first_view.py

The first view is what map.js fetches before it draws: boundaries.json,
snapshot.json (with the viewport's bbox) and stats.json. Each is requested
REPEAT times through Django's test client (server time, no network) for a
street leader, a district administrator and a city-wide superuser; the
median and the bytes are printed.
"""

from __future__ import annotations

import statistics

from common import machine, person, timer  # noqa: I001
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.test import Client

from cases.models import OPEN_STATES, Case
from grid.models import District, Role, Street

REPEAT = 5


def measure(client: Client, url: str) -> tuple[float, int]:
    times: list[float] = []
    size = 0
    for _ in range(REPEAT):
        with timer(times):
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        size = len(response.content)
    return statistics.median(times), size


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
    print("| viewer | request | server time | payload |")
    print("|---|---|---|---|")
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
        total = 0.0
        for label, url in (
            ("boundaries", "/map/boundaries.json"),
            ("snapshot", f"/map/snapshot.json?bbox={bbox}"),
            ("stats", "/map/stats.json"),
        ):
            seconds, size = measure(client, url)
            total += seconds
            print(f"| {name} | {label} | {seconds * 1000:.0f} ms | {size / 1024:.0f} KiB |")
        print(f"| {name} | **first view** | **{total * 1000:.0f} ms** | |")


if __name__ == "__main__":
    main()
