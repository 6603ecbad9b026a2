"""Notifications: written with the change that causes them, told live after commit.

Each person's open pages listen on their own socket (`/ws/me/`, grid.access's
user group): a new notification moves the bell's count without a reload.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet

from cases.models import Case, Notification
from grid import access

if TYPE_CHECKING:
    from cases.services.permissions import AnyUser

MAX_TEXT = 300


def notify(user_ids: Iterable[int], case: Case, kind: str, text: str) -> list[Notification]:
    """Tell each person once; their sockets hear of it when the transaction commits."""
    return deliver(
        [Notification(user_id=u, case=case, kind=kind, text=text) for u in sorted(set(user_ids))]
    )


def deliver(rows: list[Notification]) -> list[Notification]:
    """Save notifications in one insert (a sweep's batch is hundreds) and, after
    commit, tell each person's sockets once."""
    for row in rows:
        row.text = row.text[:MAX_TEXT]
    saved = Notification.objects.bulk_create(rows)
    people = sorted({row.user_id for row in rows})
    if people:
        transaction.on_commit(lambda: tell(people))
    return saved


def tell(user_ids: list[int]) -> None:
    """Each person's open pages: count again."""
    for user_id in user_ids:
        access.send(access.user_group(user_id), {"type": "notification.new"})


def mine(user: AnyUser) -> QuerySet[Notification]:
    return Notification.objects.filter(user_id=user.pk).select_related("case")


def unread_count(user: AnyUser) -> int:
    return unread(user.pk) if user.is_authenticated else 0


def unread(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read=False).count()


def mark_read(user: AnyUser, ids: Iterable[int] | None = None) -> int:
    """Mark the person's own notifications read (all of them without `ids`)."""
    rows = Notification.objects.filter(user_id=user.pk, read=False)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    count = rows.update(read=True)
    if count:
        transaction.on_commit(lambda: tell([user.pk]))
    return count
