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
