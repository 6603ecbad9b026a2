"""Times a phone reports (a patrol's start, a visit): which ones can be true.

A phone whose clock is years off, or a client sending nonsense, would file a
patrol or a visit where no figure or search ever finds it: the dashboard, the
worker table and the searches cover 2000 to 2100, and nothing has happened
yet in the future.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# A phone's clock a little fast is not wrong data: an hour ahead is allowed.
AHEAD = timedelta(hours=1)


def implausible(at: datetime) -> bool:
    """Is `at` before 2000, or more than an hour after the server's now?"""
    return not EARLIEST <= at <= timezone.now() + AHEAD
