"""Who covered which cell, when: assignments keep their history."""

from datetime import timedelta

from django.utils import timezone

from grid.models import CellAssignment
from tests.base import make_user


def test_a_handover_keeps_who_covered_the_cell_before(cast, territory):
    cell = territory.cell("420106002001002")
    old, new = make_user("old-worker"), make_user("new-worker")
    now = timezone.now()
    handover = now - timedelta(days=30)
    CellAssignment.objects.create(
        worker=old, cell=cell, started=now - timedelta(days=400), ended=handover
    )
    CellAssignment.objects.create(worker=new, cell=cell, started=handover)

    def covering(at):
        return set(
            CellAssignment.objects.current(at)
            .filter(cell=cell)
            .values_list("worker__username", flat=True)
        )

    assert covering(now) == {"new-worker"}
    assert covering(now - timedelta(days=60)) == {"old-worker"}
    assert covering(now - timedelta(days=500)) == set()
    assert CellAssignment.objects.filter(cell=cell).count() == 2


def test_a_cell_has_several_workers_and_a_worker_several_cells(cast, territory):
    second = territory.cell("420106002001002")
    CellAssignment.objects.create(worker=cast.worker, cell=second)
    first = territory.cell("420106002001001")
    assert set(
        CellAssignment.objects.current()
        .filter(cell=first)
        .values_list("worker__username", flat=True)
    ) == {"worker", "worker2"}
    assert set(
        CellAssignment.objects.current()
        .filter(worker=cast.worker)
        .values_list("cell__code", flat=True)
    ) == {first.code, second.code}


def test_an_assignment_cannot_end_before_it_starts(cast, territory):
    import pytest
    from django.db import IntegrityError

    now = timezone.now()
    with pytest.raises(IntegrityError):
        CellAssignment.objects.create(
            worker=cast.worker,
            cell=territory.cell("420106002001003"),
            started=now,
            ended=now - timedelta(days=1),
        )


def test_an_ended_assignment_takes_the_cells_cases_off_the_workers_list(cast, territory):
    from cases import services
    from tests.base import report

    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    assert services.can_act(cast.worker, case.__class__.objects.get(pk=case.pk))
    CellAssignment.objects.filter(worker=cast.worker).update(ended=timezone.now())
    assert not services.can_act(cast.worker, case.__class__.objects.get(pk=case.pk))


# ---- a case keeps who covered its cell then ------------------------------------------


def test_a_case_keeps_the_cells_workers_at_report_and_handling_after_a_handover(cast, territory):
    from cases import services
    from cases.models import Case
    from tests.base import report

    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    # worker2 hands the cell over to a newcomer before the case is handled.
    newcomer = make_user("newcomer")
    cell = territory.cell("420106002001001")
    CellAssignment.objects.filter(worker=cast.worker2).update(ended=timezone.now())
    CellAssignment.objects.create(worker=newcomer, cell=cell)
    services.case_handle(actor=cast.worker, number=case.number, result="清理完毕")
    # Later everyone is moved away; the case still names who covered it then.
    CellAssignment.objects.filter(cell=cell).update(ended=timezone.now())

    def at(stage):
        rows = Case.objects.get(pk=case.pk).cell_workers.filter(stage=stage)
        return set(rows.values_list("worker__username", flat=True))

    assert at("reported") == {"worker", "worker2"}
    assert at("handled") == {"worker", "newcomer"}


def test_a_case_outside_every_cell_records_no_workers(cast, territory):
    from tests.base import report

    # In street A but in no community (the 属地兜底 band north of A1).
    case = report(cast.dispatcher, point=(114.302, 30.563), source="hotline")
    assert case.cell is None
    assert case.cell_workers.count() == 0


# ---- history pages for leaders ---------------------------------------------------------


def _history(cast, territory):
    """worker: A1-002 for a year until a month ago, then A1-001 (the cast's) as now."""
    now = timezone.now()
    CellAssignment.objects.create(
        worker=cast.worker,
        cell=territory.cell("420106002001002"),
        started=now - timedelta(days=400),
        ended=now - timedelta(days=30),
    )
    old = make_user("old-worker", first_name="老王")
    CellAssignment.objects.create(
        worker=old,
        cell=territory.cell("420106002001001"),
        started=now - timedelta(days=800),
        ended=now - timedelta(days=400),
    )
    b_worker = make_user("b-worker", first_name="乙街网格员")
    CellAssignment.objects.create(worker=b_worker, cell=territory.cell("420106003001001"))


def test_a_leader_sees_who_covered_a_cell_when(cast, territory):
    from tests.base import logged_in

    _history(cast, territory)
    page = logged_in(cast.leader).get("/territory/cells/420106002001001/")
    text = page.content.decode()
    assert page.status_code == 200
    # Newest first: the two current workers, then the one who left.
    assert text.index("worker2") < text.index("老王")
    assert "老王" in text and "/territory/workers/old-worker/" in text
    first = CellAssignment.objects.get(worker__username="old-worker")
    assert first.started.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d") in text


def test_a_leader_sees_a_workers_cells_over_time(cast, territory):
    from tests.base import logged_in

    _history(cast, territory)
    text = logged_in(cast.leader).get("/territory/workers/worker/").content.decode()
    assert text.index("420106002001001") < text.index("420106002001002")  # newest first


def test_the_cell_list_shows_who_covers_each_cell_now(cast, territory):
    from tests.base import logged_in

    _history(cast, territory)
    text = logged_in(cast.leader).get("/territory/cells/").content.decode()
    assert "420106002002004" in text and "420106003001001" not in text
    row = text[text.index("420106002001001") : text.index("420106002001002")]
    assert "worker2" in row and "老王" not in row


def test_history_stays_inside_the_leaders_territory(cast, territory):
    from tests.base import logged_in

    _history(cast, territory)
    leader = logged_in(cast.leader)
    for path in ("/territory/cells/420106003001001/", "/territory/workers/b-worker/"):
        page = leader.get(path)
        assert page.status_code == 404 and "乙街网格员" not in page.content.decode()
    # A worker who covered cells on both sides shows only street A's.
    CellAssignment.objects.create(
        worker=cast.worker2, cell=territory.cell("420106003002001"), started=timezone.now()
    )
    assert "420106003002001" not in leader.get("/territory/workers/worker2/").content.decode()


def test_history_is_for_leaders_coordinators_and_administrators(cast, territory):
    from tests.base import logged_in

    for user in (cast.worker, cast.dispatcher, cast.handler):
        assert logged_in(user).get("/territory/cells/420106002001001/").status_code == 403
    assert logged_in(cast.coordinator).get("/territory/cells/").status_code == 200
    assert logged_in(cast.admin).get("/territory/workers/worker/").status_code == 200


# ---- ending a post or an assignment: claims released, on the staffing log ------------


def test_ending_an_assignment_by_command_releases_claims_and_is_logged(committed_cast):
    from django.core.management import call_command
    from viewflow.workflow.status import STATUS

    from cases import services
    from cases.models import Case
    from tests.base import logged_in, report

    cast = committed_cast
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.task_claim(actor=cast.worker, number=case.number)
    call_command("end_tenure", "worker", "--cell", "420106002001001", "--by", "coordinator")
    task = services.open_task(Case.objects.get(pk=case.pk))
    assert task.status == STATUS.NEW and task.owner_id is None
    assert not CellAssignment.objects.current().filter(worker=cast.worker).exists()
    text = logged_in(cast.leader).get("/territory/log/").content.decode()
    assert "420106002001001" in text and "coordinator" in text
    # The other street's people do not read it.
    from grid.models import Post, Role

    b_leader = make_user("b-leader")
    Post.objects.create(
        user=b_leader, role=Role.LEADER, street=cast.outsider.posts.get().community.street
    )
    assert "420106002001001" not in logged_in(b_leader).get("/territory/log/").content.decode()


def test_ending_a_post_from_the_admin_is_logged_with_who_ended_it(cast, territory):
    from grid.models import Post, StaffingLog
    from tests.base import logged_in

    post = Post.objects.get(user=cast.mediator)
    answer = logged_in(cast.admin).post(
        "/admin/grid/post/", {"action": "end_now", "_selected_action": [post.pk]}
    )
    assert answer.status_code == 302
    post.refresh_from_db()
    assert post.ended is not None
    (entry,) = StaffingLog.objects.all()
    assert (entry.person, entry.actor, entry.via) == (cast.mediator, cast.admin, "admin")
    assert entry.street == territory.street_a
    assert "mediator" in logged_in(cast.leader).get("/territory/log/").content.decode()


def test_ending_twice_is_refused_and_logged_once(cast, territory):
    import pytest
    from django.core.management import CommandError, call_command

    from grid.models import StaffingLog

    call_command("end_tenure", "dispatcher")
    with pytest.raises(CommandError, match="holds nothing like that now"):
        call_command("end_tenure", "dispatcher")
    assert StaffingLog.objects.count() == 1


def test_an_end_typed_into_the_admin_form_is_logged(cast, territory):
    from grid.models import StaffingLog
    from tests.base import logged_in

    assignment = CellAssignment.objects.get(worker=cast.worker2)
    answer = logged_in(cast.admin).post(
        f"/admin/grid/cellassignment/{assignment.pk}/change/",
        {
            "worker": cast.worker2.pk,
            "cell": assignment.cell.pk,
            "started_0": "2026-01-01",
            "started_1": "08:00:00",
            "ended_0": "2026-06-30",
            "ended_1": "18:00:00",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    (entry,) = StaffingLog.objects.all()
    assert (entry.person, entry.actor) == (cast.worker2, cast.admin)
    assert "420106002001001" in entry.what
