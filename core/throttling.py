"""Per-token and per-address API rate limits, shared by every web process.

DRF's own throttles keep each caller's whole request history (a list of
timestamps up to the rate, 1,200 floats at the default) in the cache, read and
rewrite it on every request (two round trips, and two requests in different
processes can overwrite each other's count). These count requests in fixed
windows with one atomic INCR, and estimate the sliding window from the
current and the previous window (the previous one weighted by how much of
it still overlaps): one Redis round trip, no lost counts.
"""

from __future__ import annotations

import logging
import math
import threading
import time

from redis.exceptions import RedisError
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from core.sharedstate import KEY_PREFIX, redis_client

logger = logging.getLogger(__name__)
_local: dict[str, int] = {}
_local_lock = threading.Lock()


def _count(current: str, previous: str, ttl: int) -> tuple[int, int]:
    """Add one to `current`; return it and the count of `previous`."""
    client = redis_client()
    if client is None:
        with _local_lock:
            if len(_local) > 100_000:
                _local.clear()
            _local[current] = _local.get(current, 0) + 1
            return _local[current], _local.get(previous, 0)
    pipe = client.pipeline(transaction=False)
    pipe.incr(current)
    pipe.expire(current, ttl)
    pipe.get(previous)
    count, _, before = pipe.execute()
    return count, int(before or 0)


def _uncount(current: str) -> None:
    """A refused request does not use up the allowance."""
    client = redis_client()
    if client is None:
        with _local_lock:
            _local[current] = _local.get(current, 1) - 1
    else:
        try:
            client.decr(current)
        except RedisError:
            logger.warning("Cannot uncount a refused API request in Redis", exc_info=True)


def reset() -> None:
    """Forget every count (tests)."""
    client = redis_client()
    if client is not None:
        keys = list(client.scan_iter(KEY_PREFIX + "throttle:*"))
        if keys:
            client.delete(*keys)
    with _local_lock:
        _local.clear()


class SlidingWindowMixin:
    """Replaces SimpleRateThrottle's history list with two window counters."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        window, into = divmod(now, self.duration)
        fraction = into / self.duration
        current = f"{KEY_PREFIX}throttle:{key}:{int(window)}"
        previous = f"{KEY_PREFIX}throttle:{key}:{int(window) - 1}"
        try:
            count, before = _count(current, previous, 2 * self.duration)
        except RedisError:
            # Counting is down, not the API: let the request through.
            logger.warning("Cannot count API requests in Redis", exc_info=True)
            return True
        # The tolerance: a client back exactly at Retry-After is let in despite rounding.
        if before * (1 - fraction) + count <= self.num_requests + 1e-9:
            return True
        _uncount(current)
        self._retry_after = self._seconds_until_allowed(count - 1, before, fraction)
        return False

    def _seconds_until_allowed(self, count: int, before: int, fraction: float) -> float:
        if count >= self.num_requests:
            # Not before the next window, where this one becomes the previous.
            return (1 - fraction) * self.duration
        # Within this window: once enough of the previous one has slid out.
        needed = 1 - (self.num_requests - count - 1) / before
        return max((needed - fraction) * self.duration, 1.0)

    def wait(self) -> float:
        # Whole seconds, not rounded up past the exact moment by float error.
        return max(1, math.ceil(getattr(self, "_retry_after", self.duration) - 1e-6))


class UserThrottle(SlidingWindowMixin, UserRateThrottle):
    pass


class AnonThrottle(SlidingWindowMixin, AnonRateThrottle):
    pass
