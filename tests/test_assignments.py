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
