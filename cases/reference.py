"""Reference data every report reads, kept in each process for a short while.

Categories, deadline rules and the holiday calendar change a few times a year,
in the admin. Reading them on every report cost three queries and a few
milliseconds of ORM work (docs/benchmarks.md, intake). Each process keeps a
copy for at most TTL seconds; a change saved through the ORM clears this
process's copy at once (signals), other processes see it within TTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Generic, TypeVar

from django.db.models.signals import post_delete, post_save

from cases.models import CalendarDay, Category, DeadlineRule

TTL = 60.0
T = TypeVar("T")


class Cached(Generic[T]):
    """A value loaded on first use and again once it is older than TTL.

    Two threads may both load after expiry; both get a correct value, so no lock.
    """

    def __init__(self, load: Callable[[], T]):
        self._load = load
        self._value: T | None = None
        self._loaded_at = 0.0

    def get(self) -> T:
        now = time.monotonic()
        value = self._value
        if value is None or now - self._loaded_at > TTL:
            value = self._load()
            self._value, self._loaded_at = value, now
        return value

    def clear(self) -> None:
        self._value = None


def _load_categories() -> dict[str, Category]:
    return {c.code: c for c in Category.objects.select_related("parent")}


def _load_rules() -> dict[tuple[str, str, int | None], tuple[int, str]]:
    return {
        (r.step, r.urgency, r.category_id): (r.amount, r.unit) for r in DeadlineRule.objects.all()
    }


def _load_calendar() -> dict[date, bool]:
    return dict(CalendarDay.objects.values_list("day", "is_workday"))


categories = Cached(_load_categories)
deadline_rules = Cached(_load_rules)
calendar_days = Cached(_load_calendar)
_BY_MODEL = {Category: categories, DeadlineRule: deadline_rules, CalendarDay: calendar_days}


def reportable_category(code: str) -> Category | None:
    """An active second-level category by code, or None."""
    category = categories.get().get(code)
    if category is None or not category.active or category.parent_id is None:
        return None
    return category


def clear() -> None:
    for cached in _BY_MODEL.values():
        cached.clear()


def _changed(sender, **kwargs) -> None:
    _BY_MODEL[sender].clear()


def connect() -> None:
    for model in _BY_MODEL:
        post_save.connect(_changed, sender=model, dispatch_uid=f"reference-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"reference-{model.__name__}-del")
