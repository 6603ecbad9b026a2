"""Reference data every report reads: categories, deadline rules, the holiday calendar.

They change a few times a year, in the admin, and every report needs them,
so each process keeps a copy under the "reference" generation (one cache
mechanism with the access data, core.sharedstate): a change saved through
the ORM drops every process's copy once it commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Generic, TypeVar

from django.db.models.signals import post_delete, post_save

from cases.models import CalendarDay, Category, DeadlineRule
from core.sharedstate import GenerationCache, invalidate

REFERENCE = "reference"
T = TypeVar("T")
_copies: GenerationCache[str, Any] = GenerationCache(REFERENCE, max_entries=16)


class Reference(Generic[T]):
    """One kind of reference data, loaded on first use in each generation."""

    def __init__(self, name: str, load: Callable[[], T]):
        self.name = name
        self._load = load

    def get(self) -> T:
        return _copies.get(self.name, self._load)


def _load_categories() -> dict[str, Category]:
    return {c.code: c for c in Category.objects.select_related("parent")}


def _load_rules() -> dict[tuple[str, str, int | None], tuple[int, str]]:
    return {
        (r.step, r.urgency, r.category_id): (r.amount, r.unit) for r in DeadlineRule.objects.all()
    }


def _load_calendar() -> dict[date, bool]:
    return dict(CalendarDay.objects.values_list("day", "is_workday"))


categories = Reference("categories", _load_categories)
deadline_rules = Reference("deadline_rules", _load_rules)
calendar_days = Reference("calendar_days", _load_calendar)


def reportable_category(code: str) -> Category | None:
    """An active second-level category by code, or None."""
    category = categories.get().get(code)
    if category is None or not category.active or category.parent_id is None:
        return None
    return category


def clear() -> None:
    """Drop this process's copies now (tests start each from their own database)."""
    _copies.clear()


def _changed(sender, **kwargs) -> None:
    invalidate(REFERENCE)


def connect() -> None:
    for model in (Category, DeadlineRule, CalendarDay):
        post_save.connect(_changed, sender=model, dispatch_uid=f"reference-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"reference-{model.__name__}-del")
