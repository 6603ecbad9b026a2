"""Grid generation: full coverage without overlaps, coded west→east, north→south."""

import pytest
from django.contrib.gis.db.models import Union
from django.contrib.gis.db.models.functions import Area, Transform
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.management import call_command
from django.core.management.base import CommandError

from grid.generators import SLIVER, GridGenerationError, generate_grid
from grid.gridcheck import check_grid
from grid.models import Community, GridCell
from tests.base import POINT_A1_001, report

UTM_50N = 32650


def m2(value) -> float:
    return float(getattr(value, "sq_m", value))


def areas_in_database(community: Community) -> tuple[float, float, float]:
    """(community area, sum of cell areas, area of the union of cells), all by the database."""
    cells = GridCell.objects.filter(community=community)
    this = Community.objects.filter(pk=community.pk)
    total = this.annotate(a=Area(Transform("boundary", UTM_50N))).values_list("a", flat=True)
    each = cells.annotate(a=Area(Transform("boundary", UTM_50N))).values_list("a", flat=True)
    union = cells.aggregate(u=Union("boundary"))["u"]
    union_area = this.annotate(a=Area(Transform(union, UTM_50N))).values_list("a", flat=True)
    return m2(total.get()), sum(m2(a) for a in each), m2(union_area.get())


def l_shaped(territory) -> Community:
    """An L-shaped community in street A, east of the others."""
    shape = Polygon(
        (
            (114.320, 30.550),
            (114.324, 30.550),
            (114.324, 30.553),
            (114.322, 30.553),
            (114.322, 30.556),
            (114.320, 30.556),
            (114.320, 30.550),
        )
    )
    return Community.objects.create(
        code="420106002009",
        name="L形社区",
        street=territory.street_a,
        boundary=MultiPolygon(shape, srid=4326),
    )


def test_a_generated_grid_has_no_gaps_and_no_overlaps(territory):
    community = l_shaped(territory)
    generate_grid(community, cell_area_m2=20000)
    total, summed, union = areas_in_database(community)
    assert union == pytest.approx(total, rel=1e-4)  # no gaps
    assert summed == pytest.approx(union, rel=1e-4)  # no overlaps
    assert check_grid(community.code) == []


def test_cells_are_numbered_west_to_east_then_north_to_south(territory):
    cells = generate_grid(territory.a1, cell_area_m2=250_000, replace=True)
    assert [c.code for c in cells] == [f"420106002001{n:03d}" for n in range(1, len(cells) + 1)]
    centroids = [c.boundary.centroid for c in cells]
    rows: list[list] = []
    for point in centroids:
        if rows and abs(rows[-1][0].y - point.y) < 1e-4:
            rows[-1].append(point)
        else:
            rows.append([point])
    assert len(rows) > 1
    for row in rows:
        assert [p.x for p in row] == sorted(p.x for p in row)
    assert [r[0].y for r in rows] == sorted((r[0].y for r in rows), reverse=True)


def test_the_cell_count_follows_the_area(territory):
    cells = generate_grid(territory.a2, cell_area_m2=100_000, replace=True)
    # About 1.06 km² in cells of 0.1 km²: some edge cells are larger after sliver merging.
    assert 9 <= len(cells) <= 12


def test_households_are_split_across_cells_and_add_up(territory):
    cells = generate_grid(territory.b1, households=2400, households_per_cell=400, replace=True)
    assert sum(c.households for c in cells) == 2400
    assert 5 <= len(cells) <= 9


def test_it_refuses_a_community_that_has_cells(territory):
    before = list(GridCell.objects.filter(community=territory.a1).values_list("pk", flat=True))
    with pytest.raises(GridGenerationError, match="already has cells"):
        generate_grid(territory.a1, cell_area_m2=50_000)
    assert (
        list(GridCell.objects.filter(community=territory.a1).values_list("pk", flat=True)) == before
    )


def test_edge_slivers_join_a_neighbour_instead_of_becoming_cells(territory):
    # A1 is about 958 m wide: 300 m squares leave a 58 m strip along the eastern edge.
    target = 90_000
    generate_grid(territory.a1, cell_area_m2=target, replace=True)
    cells = GridCell.objects.filter(community=territory.a1)
    areas = [
        m2(a)
        for a in cells.annotate(a=Area(Transform("boundary", UTM_50N))).values_list("a", flat=True)
    ]
    assert len(areas) == 12  # 4 × 4 squares, the strip's 4 pieces merged into column 3
    assert min(areas) >= SLIVER * target
    assert check_grid(territory.a1.code) == []


def test_it_refuses_non_positive_areas_and_too_many_cells(territory):
    with pytest.raises(GridGenerationError, match="positive"):
        generate_grid(territory.a1, cell_area_m2=0, replace=True)
    with pytest.raises(GridGenerationError, match="at most 999"):
        generate_grid(territory.a1, cell_area_m2=100, replace=True)
    # Just over the limit by the exact count, not only by the estimate.
    with pytest.raises(GridGenerationError, match="at most 999"):
        generate_grid(territory.a1, cell_area_m2=1000, replace=True)
    assert GridCell.objects.filter(community=territory.a1).count() == 4


def test_replace_deletes_the_old_cells_and_codes_the_new_ones(territory):
    old = set(GridCell.objects.filter(community=territory.a1).values_list("pk", flat=True))
    generate_grid(territory.a1, cell_area_m2=100_000, replace=True)
    cells = GridCell.objects.filter(community=territory.a1)
    assert not old & set(cells.values_list("pk", flat=True))
    codes = list(cells.order_by("code").values_list("code", flat=True))
    assert codes == [f"420106002001{n:03d}" for n in range(1, len(codes) + 1)]
    assert len(codes) > 4


def test_it_refuses_to_replace_cells_that_cases_refer_to(cast, territory):
    case = report(cast.worker, point=POINT_A1_001)
    assert case.cell.community == territory.a1
    with pytest.raises(GridGenerationError, match="referenced by cases"):
        generate_grid(territory.a1, cell_area_m2=100_000, replace=True)
    assert GridCell.objects.filter(community=territory.a1).count() == 4


def test_the_command_reports_and_refuses(territory, capsys):
    call_command("generate_grid", territory.a1.code, "--cell-area", "250000", "--replace")
    assert "420106002001001" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No community"):
        call_command("generate_grid", "999999999999", "--cell-area", "1000")
    with pytest.raises(CommandError, match="already has cells"):
        call_command("generate_grid", territory.a1.code, "--cell-area", "250000")
    with pytest.raises(CommandError, match="--cell-area"):
        call_command("generate_grid", territory.a1.code, "--replace")


def test_the_command_splits_households_across_cells(territory, capsys):
    call_command(
        "generate_grid",
        territory.b2.code,
        "--households",
        "1000",
        "--households-per-cell",
        "250",
        "--replace",
    )
    cells = GridCell.objects.filter(community=territory.b2)
    assert sum(cells.values_list("households", flat=True)) == 1000
    assert f"{cells.count()} cells" in capsys.readouterr().out
