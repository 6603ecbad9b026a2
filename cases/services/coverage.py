"""Who covered a case's cell when it was reported and when it was handled."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from cases.models import Case, CaseCellWorker
from grid.models import CellAssignment


def record_cell_workers(case: Case, stage: str, at: datetime) -> None:
    """Copy the cell's current workers onto the case: one INSERT … SELECT, no round trip.

    A case outside every cell (属地兜底) has nobody to record. A stage recorded
    again (handled after a failed verification) keeps the first workers and
    adds any new ones.
    """
    if case.cell_id is None:
        return
    at = connection.ops.adapt_datetimefield_value(at)  # raw SQL: as the ORM stores it
    table = CaseCellWorker._meta.db_table
    assignments = CellAssignment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (case_id, worker_id, cell_id, stage, at) "
            f"SELECT %s, a.worker_id, a.cell_id, %s, %s FROM {assignments} a "
            "WHERE a.cell_id = %s AND a.started <= %s AND (a.ended IS NULL OR a.ended > %s) "
            "ON CONFLICT (case_id, stage, worker_id) DO NOTHING",
            [case.pk, stage, at, case.cell_id, at, at],
        )
