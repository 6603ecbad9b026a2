"""check_grid finds overlaps, gaps, cells outside their community and bad codes."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grid.gridcheck import check_grid
from grid.models import GridCell
from tests.base import box


def kinds(problems) -> list[tuple[str, tuple]]:
    return [(p.kind, p.codes) for p in problems]


def test_a_clean_grid_has_no_problems(territory, capsys):
    assert check_grid() == []
    call_command("check_grid", "420106")
    assert "No problems" in capsys.readouterr().out


def test_it_finds_an_overlap_with_its_area(territory):
    cell = territory.cell("420106002001001")
    # Stretch cell 001 50 % into its eastern neighbour 002.
    cell.boundary = box(114.30, 30.555, 114.3075, 30.56)
    cell.save()
    (problem,) = check_grid("420106002001")
    assert problem.kind == "overlap"
    assert problem.codes == ("420106002001001", "420106002001002")
    # 0.0025° × 0.005° at 30.56°N ≈ 239.7 m × 554.3 m.
    assert problem.area_m2 == pytest.approx(132_900, rel=0.02)


def test_it_finds_a_gap(territory):
    territory.cell("420106002001004").delete()
    (problem,) = check_grid("420106002001")
    assert problem.kind == "gap"
    assert problem.area_m2 == pytest.approx(265_900, rel=0.02)


def test_it_finds_a_cell_outside_its_community(territory):
    cell = territory.cell("420106002002002")
    cell.boundary = box(114.315, 30.555, 114.3205, 30.56)  # 0.0005° past the eastern edge
    cell.save()
    problems = [p for p in check_grid("420106002") if p.kind == "outside"]
    assert [p.codes for p in problems] == [("420106002002002", "420106002002")]
    # 0.0005° × 0.005° at 30.5575°N ≈ 47.9 m × 554.3 m.
    assert problems[0].area_m2 == pytest.approx(26_560, rel=0.02)
    assert "420106002002002" in problems[0].message


def test_it_finds_codes_that_do_not_belong(territory):
    GridCell.objects.filter(code="420106003002004").update(code="420106003001999")
    problems = check_grid("420106003")
    assert ("code", ("420106003001999", "420106003002")) in kinds(problems)


def test_it_finds_a_code_of_the_wrong_length(territory):
    GridCell.objects.filter(code="420106003002004").update(code="42010600300204")
    assert ("code", ("42010600300204",)) in kinds(check_grid("420106003002"))


def test_the_command_exits_non_zero_and_names_the_codes(territory, capsys):
    territory.cell("420106002001004").delete()
    with pytest.raises(CommandError) as raised:
        call_command("check_grid", "420106002")
    assert raised.value.returncode == 1
    out = capsys.readouterr().out
    assert "gap: " in out
    assert "420106002001" in out
    assert "m²" in out


def test_an_unknown_code_is_an_error(territory):
    with pytest.raises(CommandError, match="No district, street or community"):
        call_command("check_grid", "999999")


# ---- units against their siblings and parents ------------------------------------

# A redrawn community of street A: 74 % over A1, 22 % over A2, and 5 % of it
# south of its street (into street B).
REDRAWN = box(114.3026, 30.5495, 114.3122, 30.56)


def redrawn_community(territory, boundary=REDRAWN):
    from grid.models import Community

    return Community.objects.create(
        code="420106002003", name="重划社区", street=territory.street_a, boundary=boundary
    )


def test_it_finds_a_community_over_its_neighbours_and_out_of_its_street(territory):
    redrawn_community(territory)
    found = {(p.kind, p.codes): p for p in check_grid("420106002")}
    a1, a2 = (
        found[("overlap", ("420106002001", "420106002003"))],
        found[("overlap", ("420106002002", "420106002003"))],
    )
    # 0.0074° × 0.01° at 30.555°N ≈ 709 m × 1,109 m: 74 % of A1.
    assert a1.area_m2 == pytest.approx(786_700, rel=0.02)
    assert "74 % of 420106002001" in a1.message
    assert "22 % of 420106002002" in a2.message
    outside = found[("outside", ("420106002003", "420106002"))]
    assert outside.area_m2 == pytest.approx(0.0096 * 0.0005 * 95_900 * 110_900, rel=0.02)
    assert "(5 %) outside street 420106002" in outside.message
    assert ("empty", ("420106002003",)) in found


def test_it_finds_cells_overlapping_cells_of_another_community(territory):
    community = redrawn_community(territory)
    GridCell.objects.create(
        code="420106002003001", name="重划第1网格", community=community,
        boundary=box(114.3075, 30.555, 114.3122, 30.56),
    )  # fmt: skip
    found = kinds(check_grid("420106002"))
    assert ("overlap", ("420106002001002", "420106002003001")) in found
    assert ("overlap", ("420106002002001", "420106002003001")) in found


def test_it_finds_a_street_out_of_its_district(territory):
    street = territory.street_a
    street.boundary = box(114.295, 30.55, 114.325, 30.575)  # 0.005° north of the district
    street.save()
    assert ("outside", ("420106002", "420106")) in kinds(check_grid("420106"))


def test_it_finds_a_gap_between_communities_inside_their_street(territory):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    a1 = territory.a1
    hole = ((114.304, 30.554), (114.306, 30.554), (114.306, 30.556), (114.304, 30.556))
    outer = ((114.30, 30.55), (114.31, 30.55), (114.31, 30.56), (114.30, 30.56))
    a1.boundary = MultiPolygon(Polygon((*outer, outer[0]), (*hole, hole[0])), srid=4326)
    a1.save()
    (gap,) = [p for p in check_grid("420106002") if p.kind == "gap"]
    assert gap.codes == ("420106002", "420106002001")
    assert gap.area_m2 == pytest.approx(0.002 * 0.002 * 95_900 * 110_900, rel=0.02)


def test_the_band_between_communities_and_their_streets_edge_is_no_gap(territory):
    # Street A is larger than its communities on purpose (属地兜底): no problem.
    assert [p for p in check_grid("420106") if p.kind == "gap"] == []


def test_the_command_names_units_areas_and_exits_non_zero(territory, capsys):
    redrawn_community(territory)
    with pytest.raises(CommandError) as raised:
        call_command("check_grid", "420106002")
    assert raised.value.returncode == 1
    out = capsys.readouterr().out
    assert "overlap: Community 420106002001 overlaps 420106002003 by" in out
    assert "outside: Community 420106002003 lies" in out
    assert "empty: Community 420106002003 has no cells." in out
