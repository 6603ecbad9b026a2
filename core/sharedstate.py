"""State the web processes share: a Redis client, and generation numbers for caches.

Several web workers keep per-process copies of data that rarely changes
(who holds which post, which token is whose, the grid cells). A copy is only
used while the *generation* it was loaded under is still current. A change
saved through the ORM bumps the generation after its transaction commits, so
every process drops its copy on its next request; without Redis (the embedded
single process) the generation lives in this process.

A request reads a generation once (`request_scope`): checking it on every
cache lookup would cost a Redis round trip each.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import redis
from django.conf import settings
from django.db import transaction
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

logger = logging.getLogger(__name__)

KEY_PREFIX = "gridcase:"
# Who may see what: token owners, territories, located cells (grid.access).
ACCESS = "access"
_client = None
_client_lock = threading.Lock()
_local_generations: dict[str, str] = {}
_caches: dict[str, list[GenerationCache]] = {}
_counter = itertools.count(1)
_in_request: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "gridcase_generations", default=None
)


def redis_client():
    """One client (and connection pool) per process, or None without REDIS_URL.

    Django's cache builds a new client object on every call; the throttle and
    the generations run on each API request, so they keep their own.
    """
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        with _client_lock:
            if _client is None:
                # One quick retry, then give up: a request must not hang on a
                # Redis that is down (callers fall back, see generation()).
                _client = redis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_connect_timeout=0.5,
                    socket_timeout=1.0,
                    retry=Retry(NoBackoff(), 1),
                )
    return _client


def generation(name: str) -> str:
    """The current generation of `name`, read at most once per request."""
    seen = _in_request.get()
    if seen is not None and name in seen:
        return seen[name]
    client = redis_client()
    if client is None:
        value = _local_generations.setdefault(name, "0")
    else:
        try:
            raw = client.get(KEY_PREFIX + "gen:" + name)
            value = raw.decode() if raw else "0"
        except RedisError:
            # Redis is down: nothing cached can be trusted, so nothing matches
            # and every copy is read again from the database.
            logger.warning("Cannot read generation %s from Redis", name, exc_info=True)
            value = f"unknown-{time.time_ns()}"
    if seen is not None:
        seen[name] = value
    return value


def invalidate(name: str) -> None:
    """Data under `name` changed: drop this process's copies now, everyone's after commit."""
    for cache in _caches.get(name, ()):
        cache.clear()
    bump(name)


def clear_all() -> None:
    """Drop every per-process copy (tests: each starts from its own database state)."""
    for caches in _caches.values():
        for cache in caches:
            cache.clear()


_on_publish: dict[str, list[Callable[[], None]]] = {}


def on_new_generation(name: str, hook: Callable[[], None]) -> None:
    """Call `hook` in this process each time it starts a new generation of `name`."""
    _on_publish.setdefault(name, []).append(hook)


def on_commit_once(key: str, func: Callable[[], None]) -> None:
    """Run `func` when the current transaction commits, once however often it is asked.

    An import of 5,000 cells saves 5,000 rows; what follows from them happens once.
    """
    connection = transaction.get_connection()
    # run_on_commit is what Django's captureOnCommitCallbacks reads too; a
    # savepoint rolled back removes its entries, so a kept one still commits.
    if any(getattr(hook, "once_key", None) == key for _, hook, _ in connection.run_on_commit):
        return
    func.once_key = key  # type: ignore[attr-defined]
    transaction.on_commit(func)


def bump(name: str) -> None:
    """Start a new generation of `name` once the current transaction commits.

    Once per transaction, however many rows it changes: an import of 5,000
    cells must not tell every live socket 5,000 times.
    """

    def publish() -> None:
        value = f"{os.getpid()}-{time.time_ns()}-{next(_counter)}"
        _local_generations[name] = value
        client = redis_client()
        if client is not None:
            try:
                client.set(KEY_PREFIX + "gen:" + name, value)
            except RedisError:
                # Other processes keep their copies until the 60 s max_age.
                logger.warning("Cannot publish generation %s to Redis", name, exc_info=True)
        for hook in _on_publish.get(name, ()):
            hook()

    on_commit_once(f"generation:{name}", publish)


def request_scope(get_response):
    """Middleware: each request reads each generation once, and only its own."""

    def middleware(request):
        token = _in_request.set({})
        try:
            return get_response(request)
        finally:
            _in_request.reset(token)

    return middleware


K = TypeVar("K")
V = TypeVar("V")


class GenerationCache(Generic[K, V]):
    """Values kept in this process while `generation(name)` is unchanged.

    `max_age` is a backstop for changes that bypass the ORM's signals (a
    queryset `update()`, SQL by hand). `clear()` drops this process's copies at
    once, for changes made by this process that have not committed yet.
    """

    def __init__(self, name: str, max_age: float = 60.0, max_entries: int = 20_000):
        self.name = name
        self.max_age = max_age
        self.max_entries = max_entries
        self._entries: dict[K, tuple[str, float, V]] = {}
        _caches.setdefault(name, []).append(self)

    def get(self, key: K, load: Callable[[], V]) -> V:
        current = generation(self.name)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] == current and now - entry[1] < self.max_age:
            return entry[2]
        value = load()
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        # Stored under the generation read *before* loading: a change that
        # commits while we load bumps past it, so the copy is not kept.
        self._entries[key] = (current, now, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
