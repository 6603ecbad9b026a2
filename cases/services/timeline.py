"""The timeline: numbered entries, each the event the live map receives after commit."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from cases import events
from cases.models import Case, EventSequence, TimelineEntry

if TYPE_CHECKING:
    from cases.services.permissions import AnyUser


def increment(sql: str, params: list[Any]) -> int:
    """Run an upsert-and-increment that RETURNs the new value (PostgreSQL and SQLite ≥ 3.35)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _next_seqs(count: int = 1) -> range:
    """Take `count` consecutive sequence numbers.

    The row lock is held until commit, so sequence numbers commit in order:
    a map that has seen N never later finds an N-1 it missed.
    """
    last = increment(
        f"INSERT INTO {EventSequence._meta.db_table} (id, last) VALUES (1, %s) "
        "ON CONFLICT (id) DO UPDATE SET last = excluded.last + "
        f"{EventSequence._meta.db_table}.last RETURNING last",
        [count],
    )
    return range(last - count + 1, last + 1)


def entry_for(
    case: Case,
    action: str,
    *,
    actor: AnyUser | None = None,
    from_state: str = "",
    note: str = "",
    data: dict[str, Any] | None = None,
    client_id: str | None = None,
    at: datetime | None = None,
) -> TimelineEntry:
    """A timeline entry for the case as it is now, not yet numbered or saved."""
    return TimelineEntry(
        case=case,
        street_id=case.street_id,
        community_id=case.community_id,
        cell_id=case.cell_id,
        at=at or timezone.now(),
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=case.state,
        note=note,
        data=data or {},
        client_id=client_id,
    )


def record(case: Case, action: str, **fields: Any) -> TimelineEntry:
    """Append a timeline entry (the event the map receives) and broadcast it after commit."""
    return record_many([entry_for(case, action, **fields)])[0]


def record_many(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """Number and save entries in one go; broadcast them after commit."""
    if not entries:
        return entries
    for entry, seq in zip(entries, _next_seqs(len(entries)), strict=True):
        entry.seq = seq
    if len(entries) == 1:
        entries[0].save()
    else:
        TimelineEntry.objects.bulk_create(entries)
    payloads = [events.event_payload(entry) for entry in entries]
    transaction.on_commit(lambda: events.broadcast(payloads))
    return entries
