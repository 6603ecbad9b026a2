"""Shared pieces of the benchmarks: Django setup, people, timing, and the machine."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()


# The environment of a server under measurement: DEBUG off, no timers, plain HTTP.
PRODUCTION_LIKE = {
    "TIMERS": "off",
    "DEBUG": "false",
    "SECRET_KEY": "bench-" + "x" * 50,
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
}


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(int(round(fraction * len(ordered) + 0.5)) - 1, 0)]


def summary(values: list[float], unit: str = "ms", scale: float = 1000) -> str:
    return (
        f"p50 {statistics.median(values) * scale:.1f} {unit}, "
        f"p99 {percentile(values, 0.99) * scale:.1f} {unit}, n={len(values)}"
    )


def quiet_collector() -> None:
    """Keep this process's garbage collector from timing itself.

    A benchmark holds Django, the dataset's objects and its results: a full
    collection here would walk all of them between a request and its answer
    and be counted as the server's latency.
    """
    gc.collect()
    gc.freeze()


@contextmanager
def timer(results: list[float]):
    start = time.perf_counter()
    yield
    results.append(time.perf_counter() - start)


def person(username: str, role: str, **unit):
    from django.contrib.auth import get_user_model

    from grid.models import Post

    user, _ = get_user_model().objects.get_or_create(username=username)
    Post.objects.get_or_create(user=user, role=role, **unit)
    return user
