"""The live map's open-case counts (OpenCount): kept by the database as cases change,
whichever way they change, and rebuilt by a command."""

from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q, Sum

from cases import mapcounts, services
from cases.models import OPEN_STATES, Case, OpenCount, TimelineEntry
from grid.models import GridCell
from tests.base import POINT_B1, report


def counted() -> dict[tuple[int, int, str], int]:
    """OpenCount's non-zero rows, by (street, cell, colour)."""
    rows = OpenCount.objects.values("street_id", "cell_id", "deadline_state").annotate(
        n=Sum("open")
    )
    return {(r["street_id"], r["cell_id"], r["deadline_state"]): r["n"] for r in rows if r["n"]}


def truth() -> dict[tuple[int, int, str], int]:
    """The same, counted from the cases."""
    rows = (
        Case.objects.filter(state__in=OPEN_STATES)
        .values("street_id", "cell_id", "deadline_state")
        .annotate(n=Count("pk"))
    )
    return {(r["street_id"], r["cell_id"] or 0, r["deadline_state"]): r["n"] for r in rows}


def test_counts_follow_reports_steps_the_sweeper_edits_and_deletes(cast, territory):
    first = report(cast.worker)
    second = report(cast.worker)
    report(cast.outsider, point=POINT_B1)
    assert sum(counted().values()) == 3 and counted() == truth()
    services.case_triage(actor=cast.dispatcher, number=first.number, route="onsite")
    assert counted() == truth()
    # The sweeper turns steps red with a bulk UPDATE, past every model method.
    services.deadline_sweep(now=Case.objects.get(pk=second.pk).step_due)
    assert ("red" in {colour for (_, _, colour) in counted()}) and counted() == truth()
    services.case_reject(actor=cast.dispatcher, number=second.number, reason="invalid")
    assert sum(counted().values()) == 2 and counted() == truth()
    # Moved to another cell by hand, then deleted.
    other = GridCell.objects.exclude(pk=first.cell_id).filter(community=first.community).first()
    Case.objects.filter(pk=first.pk).update(cell=other)
    assert counted() == truth()
    with connection.cursor() as cursor:  # timeline entries are never deleted, but by hand
        cursor.execute(f"DELETE FROM {TimelineEntry._meta.db_table} WHERE case_id = %s", [first.pk])
    Case.objects.filter(pk=first.pk).delete()
    assert sum(counted().values()) == 1 and counted() == truth()


def test_rebuild_map_counts_restores_the_table(cast, capsys):
    report(cast.worker)
    report(cast.worker)
    OpenCount.objects.update(open=7)
    call_command("rebuild_map_counts")
    assert counted() == truth() and sum(counted().values()) == 2
    assert "2" in capsys.readouterr().out


def test_counts_without_a_cell_are_kept_apart(cast):
    case = report(cast.worker)
    Case.objects.filter(pk=case.pk).update(cell=None)
    assert counted() == truth() == {(case.street_id, 0, "green"): 1}
    assert mapcounts.rebuild_counts() == 1
    assert not OpenCount.objects.filter(Q(open__lt=0)).exists()
