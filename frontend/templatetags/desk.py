"""Filters of the leadership desk's templates."""

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def percent(rate: float | None) -> str:
    """A rate of cases.metrics (0.6667) as a report prints it (66.7%); none yet: a dash."""
    if rate is None:
        return "—"
    return f"{number_format(rate * 100, 1)}%"
