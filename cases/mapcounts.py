"""The live map's open-case counts (cases.models.OpenCount): rebuilt from the cases.

The database keeps them as cases change (triggers, migration cases 0013);
this is for rows loaded with triggers disabled, or a hand edit of the table.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Sum

from cases.models import OPEN_STATES, Case, OpenCount


def rebuild_counts() -> int:
    """OpenCount again from the cases; returns the open cases counted."""
    key = "street_id, COALESCE(community_id, 0), COALESCE(cell_id, 0), deadline_state"
    states = ", ".join(["%s"] * len(OPEN_STATES))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {OpenCount._meta.db_table}")
        cursor.execute(
            f"INSERT INTO {OpenCount._meta.db_table} "
            "(street_id, community_id, cell_id, deadline_state, open) "
            f"SELECT {key}, COUNT(*) FROM {Case._meta.db_table} "
            f"WHERE state IN ({states}) GROUP BY {key}",
            OPEN_STATES,
        )
    return OpenCount.objects.aggregate(n=Sum("open"))["n"] or 0
