"""The live map's counts (OpenCount, and DailyCount for the stats strip): kept by the
database as cases change, whichever way they change, saying what cases.metrics says,
and rebuilt by a command."""

from datetime import timedelta

from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from cases import mapcounts, mapdata, services
from cases.calendar import CHINA
from cases.metrics import combine, metrics
from cases.models import OPEN_STATES, Case, DailyCount, OpenCount, TimelineEntry
from cases.services import visible_cases
from grid.models import GridCell
from tests.base import POINT_B1, make_user, report


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


def metrics_said(user, group: str) -> tuple[dict, dict]:
    """The stats strip's figures as cases.metrics counts them, for comparison."""
    now = timezone.now()
    start = now.astimezone(CHINA).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    units = metrics(
        visible_cases(user), start=start, end=now + timedelta(seconds=1), group=group,
        counts_only=True,
    )  # fmt: skip
    per_unit = {
        str(pk): mapdata.rates(u) | {"open": u.open, "overdue": u.overdue}
        for pk, u in units.items()
        if pk is not None
    }
    return per_unit, mapdata.rates(combine(units))


def test_the_daily_roll_up_says_what_metrics_says(cast, territory):
    boss = make_user("boss", is_superuser=True, is_staff=True)
    answered = report(cast.worker)
    rejected = report(cast.worker)
    closed = report(cast.worker)
    late = report(cast.outsider, point=POINT_B1)
    report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=answered.number, route="onsite")
    services.case_reject(actor=cast.dispatcher, number=rejected.number, reason="invalid")
    Case.objects.filter(pk=closed.pk).update(
        state="closed", closure_reason="resolved", satisfaction="basic", closed_at=timezone.now()
    )
    # Answered after its response deadline; and one past it, still unanswered.
    Case.objects.filter(pk=late.pk).update(triaged_at=F("triage_due") + timedelta(hours=1))
    Case.objects.filter(pk=answered.pk).update(triage_due=timezone.now() - timedelta(days=1))
    services.deadline_sweep(now=timezone.now() + timedelta(days=30))
    for user, group, key in (
        (cast.leader, "community", "communities"),
        (boss, "street", "streets"),
    ):
        stats = mapdata.stats(user)
        per_unit, total = metrics_said(user, group)
        assert stats[key] == per_unit and stats["rates"] == total
        assert None not in total.values()
    assert mapcounts.rebuild_counts() == 3
    assert mapdata.stats(boss)["rates"] == metrics_said(boss, "street")[1]


def test_the_stats_strip_reads_the_roll_up(client, cast):
    case = report(cast.worker)
    client.force_login(cast.leader)
    assert client.get("/map/stats.json").json()["communities"][str(case.community_id)]["open"] == 1
    DailyCount.objects.filter(community_id=case.community_id).update(open=4)
    assert client.get("/map/stats.json").json()["communities"][str(case.community_id)]["open"] == 4
