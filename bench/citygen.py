"""Generate a city-scale dataset with COPY: districts, streets, communities, cells, cases.

    DATABASE_URL=postgis://postgres@127.0.0.1:5432/gridcase_bench \\
        .venv/bin/python bench/citygen.py --cells 20000 --open 100000 --closed 1000000

Territory is a lattice of square cells (about 200 m) grouped 10 to a
community, 25 communities to a street, 8 streets to a district. Cases fall
around a few hundred hot spots (a Gaussian around each) and uniformly
elsewhere, with realistic mixes of category, state, urgency and deadline
colour; closed cases spread over the past year. Rows go in with COPY, so a
million cases load in minutes. Cases are bare rows (no viewflow process): the
map, metrics and timer benchmarks read cases, and intake benchmarks create
their own through the API.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from cases.mapcounts import rebuild_counts  # noqa: E402
from cases.models import Category, State  # noqa: E402

CELL_DEG = 0.002  # ~190 m × 220 m at 30.5°N
CELLS_PER_COMMUNITY = 10
COMMUNITIES_PER_STREET = 25
STREETS_PER_DISTRICT = 8
ORIGIN = (114.10, 30.40)


def square(x: float, y: float, size_x: float, size_y: float) -> str:
    return (
        f"SRID=4326;MULTIPOLYGON((({x} {y},{x + size_x} {y},{x + size_x} {y + size_y},"
        f"{x} {y + size_y},{x} {y})))"
    )


def copy(table: str, columns: list[str], rows) -> int:
    n = 0
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp,
    ):
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def territory(cells: int) -> list[tuple[int, int, int, float, float]]:
    """Create the units; return (cell_id, community_id, street_id, x, y) of every cell."""
    communities = math.ceil(cells / CELLS_PER_COMMUNITY)
    streets = math.ceil(communities / COMMUNITIES_PER_STREET)
    districts = math.ceil(streets / STREETS_PER_DISTRICT)
    # A community is a 5 × 2 block of cells; a street a 5 × 5 block of communities.
    comm_w, comm_h = 5 * CELL_DEG, 2 * CELL_DEG
    street_w, street_h = 5 * comm_w, 5 * comm_h
    streets_per_row = 4
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM grid_district")
        base = cursor.fetchone()[0]
    district_rows, street_rows, community_rows, cell_rows = [], [], [], []
    cell_index = []
    for d in range(districts):
        d_id = base + d + 1
        d_code = f"{429000 + d_id:06d}"
        dx = ORIGIN[0] + d * streets_per_row * street_w
        district_rows.append(
            (
                d_id,
                d_code,
                f"基准区{d_id}",
                square(dx, ORIGIN[1], streets_per_row * street_w, 2 * street_h),
            )
        )
        for s in range(STREETS_PER_DISTRICT):
            s_id = (d_id - 1) * STREETS_PER_DISTRICT + s + 1
            if len(street_rows) >= streets:
                break
            sx = dx + (s % streets_per_row) * street_w
            sy = ORIGIN[1] + (s // streets_per_row) * street_h
            s_code = f"{d_code}{s + 1:03d}"
            street_rows.append(
                (s_id, s_code, f"基准街道{s_id}", d_id, square(sx, sy, street_w, street_h))
            )
            for c in range(COMMUNITIES_PER_STREET):
                if len(community_rows) >= communities:
                    break
                c_id = (s_id - 1) * COMMUNITIES_PER_STREET + c + 1
                cx = sx + (c % 5) * comm_w
                cy = sy + (c // 5) * comm_h
                c_code = f"{s_code}{c + 1:03d}"
                community_rows.append(
                    (c_id, c_code, f"基准社区{c_id}", s_id, square(cx, cy, comm_w, comm_h))
                )
                for k in range(CELLS_PER_COMMUNITY):
                    if len(cell_rows) >= cells:
                        break
                    g_id = (c_id - 1) * CELLS_PER_COMMUNITY + k + 1
                    # Numbered north→south, west→east: row 0 is the northern one.
                    gx = cx + (k % 5) * CELL_DEG
                    gy = cy + (1 - k // 5) * CELL_DEG
                    cell_rows.append(
                        (
                            g_id,
                            f"{c_code}{k + 1:03d}",
                            f"网格{g_id}",
                            c_id,
                            square(gx, gy, CELL_DEG, CELL_DEG),
                            400,
                            1100,
                        )
                    )
                    cell_index.append((g_id, c_id, s_id, gx, gy))
    # external_code is NOT NULL and COPY does not apply Django's default: "" for each.
    copy(
        "grid_district",
        ["id", "code", "name", "boundary", "external_code"],
        (r + ("",) for r in district_rows),
    )
    copy(
        "grid_street",
        ["id", "code", "name", "district_id", "boundary", "external_code"],
        (r + ("",) for r in street_rows),
    )
    copy(
        "grid_community",
        ["id", "code", "name", "street_id", "boundary", "external_code"],
        (r + ("",) for r in community_rows),
    )
    copy(
        "grid_gridcell",
        [
            "id",
            "code",
            "name",
            "community_id",
            "boundary",
            "households",
            "population",
            "external_code",
        ],
        (r + ("",) for r in cell_rows),
    )
    with connection.cursor() as cursor:
        for table in ("grid_district", "grid_street", "grid_community", "grid_gridcell"):
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            cursor.execute(f"SELECT setval({sequence}, (SELECT MAX(id) FROM {table}))")
    return cell_index


OPEN_MIX = [
    (State.TRIAGE, 15),
    (State.ONSITE, 30),
    (State.MEDIATION, 8),
    (State.STREET_DISPATCH, 7),
    (State.STREET_MEDIATION, 2),
    (State.DEPARTMENT, 15),
    (State.VERIFY, 13),
    (State.RETURN_VISIT, 10),
]


# What residents report, and where: the case search looks for substrings of these.
PROBLEMS = [
    "楼道堆放大量杂物，影响消防通道",
    "小区地下车库漏水严重",
    "路灯损坏，夜间无照明",
    "邻里噪音纠纷，多次协商未果",
    "共享单车乱停放堵塞人行道",
    "垃圾清运不及时，气味难闻",
    "井盖缺失，存在安全隐患",
    "楼上住户卫生间漏水至楼下",
    "占道经营，油烟扰民",
    "违章搭建阳台雨棚",
    "电动车楼道充电，存在火灾隐患",
    "绿化带树木倒伏",
]
ROADS = ["和平大道", "友谊大道", "中山路", "徐东大街", "武珞路", "新河街", "铁机路", "临江大道"]


def weighted(rng: random.Random, mix):
    values, weights = zip(*mix, strict=True)
    return rng.choices(values, weights)[0]


def cases(cell_index, n_open: int, n_closed: int, rng: random.Random) -> None:
    categories = list(Category.objects.filter(parent__isnull=False).values_list("id", flat=True))
    hot = rng.sample(cell_index, min(300, len(cell_index)))
    now = datetime.now(UTC)
    columns = [
        "number",
        "category_id",
        "urgency",
        "major_hazard",
        "description",
        "address",
        "location",
        "street_id",
        "community_id",
        "cell_id",
        "source",
        "reporter_name",
        "reporter_phone",
        "state",
        "handling_step",
        "reopen_count",
        "visit_reopens",
        "satisfaction",
        "closure_reason",
        "closure_note",
        "deadline_state",
        "supervised",
        "reported_at",
        "closed_at",
        "updated",
        "step_started",
        "step_warn_at",
        "step_due",
        "deadline_check_at",
        "triaged_at",
        "triage_due",
        "access_code",
        "reporter_consent",
        "resident_satisfaction",
        "resident_words",
        "supporter_count",
    ]

    def rows(count: int, open_: bool):
        for i in range(count):
            cell = rng.choice(hot) if rng.random() < 0.6 else rng.choice(cell_index)
            g_id, c_id, s_id, gx, gy = cell
            x = gx + rng.random() * CELL_DEG
            y = gy + rng.random() * CELL_DEG
            age = timedelta(days=rng.random() * (20 if open_ else 365))
            reported = now - age
            state = (
                weighted(rng, OPEN_MIX)
                if open_
                else (State.REJECTED if rng.random() < 0.08 else State.CLOSED)
            )
            due = reported + timedelta(days=rng.choice([1, 3, 7, 15]))
            warn = reported + (due - reported) * 0.8
            red = open_ and now > due
            colour = "red" if red else ("yellow" if open_ and now > warn else "green")
            closed_at = None if open_ else reported + timedelta(hours=rng.expovariate(1 / 60))
            check = None if (not open_ or red) else (due if colour == "yellow" else warn)
            triaged = reported + timedelta(hours=rng.expovariate(1 / 2))
            satisfaction = (
                "" if open_ else rng.choice(["satisfied"] * 8 + ["basic"] * 2 + ["unsatisfied"])
            )
            yield (
                f"{'O' if open_ else 'C'}{i:08d}",
                rng.choice(categories),
                rng.choice(["general"] * 8 + ["emergency", "complex"]),
                False,
                f"{rng.choice(PROBLEMS)}（{rng.randrange(1, 40)}栋{rng.randrange(1, 7)}单元）",
                f"{rng.choice(ROADS)}{rng.randrange(1, 900)}号",
                f"SRID=4326;POINT({x} {y})",
                s_id,
                c_id,
                g_id,
                "grid_worker",
                "",
                "",
                state,
                "",
                0,
                0,
                satisfaction,
                "" if open_ else "resolved",
                "",
                colour,
                red,
                reported,
                closed_at,
                now,
                reported,
                warn,
                due,
                check,
                triaged,
                reported + timedelta(hours=2),
                "",
                False,
                "",
                "",
                0,
            )

    t = time.monotonic()
    copy("cases_case", columns, rows(n_open, True))
    print(f"  {n_open:,} open cases in {time.monotonic() - t:.0f} s", flush=True)
    t = time.monotonic()
    copy("cases_case", columns, rows(n_closed, False))
    print(f"  {n_closed:,} closed cases in {time.monotonic() - t:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--closed", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("citygen needs PostGIS: set DATABASE_URL=postgis://…")
    rng = random.Random(args.seed)
    t = time.monotonic()
    index = territory(args.cells)
    print(f"  {len(index):,} cells in {time.monotonic() - t:.0f} s", flush=True)
    cases(index, args.open, args.closed, rng)
    # The database's triggers counted the open cases as COPY loaded them; rebuilt
    # anyway, so a dataset loaded with triggers disabled is right too.
    print(f"  map counts: {rebuild_counts():,} open cases", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"done in {time.monotonic() - t:.0f} s")


if __name__ == "__main__":
    main()
