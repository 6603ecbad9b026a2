"""The live map's counts (cases.models.OpenCount, DailyCount): rebuilt from the cases.

The database keeps them as cases change (triggers, migrations cases 0013 and
0014); this is for rows loaded with triggers disabled, or a hand edit.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Sum

from cases.models import OPEN_STATES, Case, DailyCount, OpenCount


def rebuild_counts() -> int:
    """OpenCount and DailyCount again from the cases; returns the open cases counted."""
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
        _rebuild_daily(cursor, states)
    return OpenCount.objects.aggregate(n=Sum("open"))["n"] or 0


# What each DailyCount column counts (cases.metrics' definitions), as SQL on a case row.
DAILY = {
    "triaged": "triaged_at IS NOT NULL",
    "triaged_in_time": "triaged_at <= triage_due",
    "accepted": "state <> 'rejected'",
    "resolved": "state = 'closed' AND closure_reason IN ('resolved', 'agreement', 'referred')",
    "rated": "satisfaction <> ''",
    "satisfied": "satisfaction IN ('satisfied', 'basic')",
    "open": "state IN ({states})",
    "overdue": "state IN ({states}) AND deadline_state = 'red'",
}


def _rebuild_daily(cursor, states: str) -> None:
    # The local day reported: China keeps no summer time; SQLite stores UTC text.
    if connection.vendor == "postgresql":
        day = "(reported_at AT TIME ZONE 'Asia/Shanghai')::date"
    else:
        day = "date(reported_at, '+8 hours')"
    sums = ", ".join(
        f"SUM(CASE WHEN {sql.format(states=states)} THEN 1 ELSE 0 END)" for sql in DAILY.values()
    )
    cursor.execute(f"DELETE FROM {DailyCount._meta.db_table}")
    cursor.execute(
        f"INSERT INTO {DailyCount._meta.db_table} "
        f"(street_id, community_id, day, {', '.join(DAILY)}) "
        f"SELECT street_id, COALESCE(community_id, 0), {day}, {sums} "
        f"FROM {Case._meta.db_table} GROUP BY 1, 2, 3",
        OPEN_STATES * 2,
    )
