import pytest
from django.contrib.gis.geos import Point

from grid.locate import OutsideTerritory, locate
from grid.models import GridCell


def test_it_finds_the_cell_containing_a_point(territory):
    loc = locate((114.302, 30.558))
    assert loc.cell.code == "420106002001001"
    assert loc.community == territory.a1
    assert loc.street == territory.street_a
    assert loc.method == "cell"


def test_a_located_cell_carries_its_community_and_street_whole_but_no_boundary(
    territory, django_assert_num_queries
):
    # Read in one written-out query on a cell's first lookup, then kept.
    with django_assert_num_queries(2):  # the cell's id, then the cell, community, street
        cell = locate((114.302, 30.558)).cell
    stored = GridCell.objects.select_related("community__street").get(pk=cell.pk)
    with django_assert_num_queries(0):
        for mine, theirs in (
            (cell, stored),
            (cell.community, stored.community),
            (cell.community.street, stored.community.street),
        ):
            assert type(mine) is type(theirs)
            fields = [f.attname for f in type(mine)._meta.concrete_fields if f.name != "boundary"]
            assert [getattr(mine, f) for f in fields] == [getattr(theirs, f) for f in fields]
            assert mine.get_deferred_fields() == {"boundary"}
            assert not mine._state.adding
    with django_assert_num_queries(1):  # the id only: the cell is kept
        assert locate((114.302, 30.558)).cell is cell
    with django_assert_num_queries(1):  # a boundary asked for is read then
        assert cell.boundary.contains(Point(114.302, 30.558, srid=4326))


def test_a_point_on_a_shared_border_resolves_to_the_lowest_code(territory):
    # x=114.305 is the border between cells 001 and 002 of community A1.
    point = Point(114.305, 30.558, srid=4326)
    codes = list(GridCell.objects.containing(point).values_list("code", flat=True))
    assert codes == ["420106002001001", "420106002001002"]
    assert locate(point).cell.code == "420106002001001"


def test_a_point_on_a_four_cell_corner_resolves_the_same_way_every_time(territory):
    point = (114.305, 30.555)
    assert {locate(point).cell.code for _ in range(5)} == {"420106002001001"}


def test_a_point_just_outside_a_cell_snaps_within_the_tolerance(territory):
    # 0.0002° of longitude at 30.5°N is about 19 m west of community A1.
    loc = locate((114.2998, 30.552))
    assert loc.cell.code == "420106002001003"
    assert loc.method == "near_cell"


def test_a_point_beyond_the_tolerance_falls_back_to_the_street(territory):
    # About 190 m west of A1, still inside street A's boundary.
    loc = locate((114.298, 30.552))
    assert loc.cell is None
    assert loc.community is None
    assert loc.street == territory.street_a
    assert loc.method == "street"


def test_a_point_in_a_community_gap_falls_back_to_the_community(territory):
    GridCell.objects.filter(code="420106002002004").delete()
    loc = locate((114.318, 30.552), tolerance_m=0)
    assert loc.cell is None
    assert loc.community == territory.a2
    assert loc.method == "community"


def test_a_point_outside_the_territory_is_an_error(territory):
    with pytest.raises(OutsideTerritory, match="outside the territory"):
        locate((116.397, 39.909))


def test_tolerance_is_measured_in_metres(territory):
    # 40 m west of A1: outside the default 30 m, inside 50 m.
    point = (114.30 - 40 / (111_320 * 0.8616), 30.552)
    assert locate(point).cell is None
    assert locate(point, tolerance_m=50).cell.code == "420106002001003"
