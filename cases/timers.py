"""The deadline-timer loop: one sweep fires every due step, sends the notification
outbox, then sleeps.

It runs in a thread of the web process in the embedded default (TIMERS=
inprocess) or as `manage.py run_timers` in its own process.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


# A tick sweeps batches until fewer than a batch were due, up to this many:
# a backlog after an outage clears in one tick without starving the loop.
BATCH = 500
MAX_BATCHES = 40


def sweep() -> int:
    """Turn every due step yellow or red; returns how many changed."""
    from cases.services import deadline_sweep

    total = 0
    for _ in range(MAX_BATCHES):
        fired = deadline_sweep(batch=BATCH)
        total += fired
        if fired < BATCH:
            break
    return total


def send_outbox() -> int:
    """Send the notifications people want outside the app (cases.services.outbox)."""
    from cases.services.outbox import drain_outbox

    return drain_outbox()


def check_calendar() -> None:
    """Warn every check while the year's (or, in December, next year's) holidays are missing."""
    from cases.checks import calendar_warning

    message = calendar_warning()
    if message:
        logger.warning("Calendar: %s", message)


def check_ownership() -> int:
    """Alert the streets of open cases nobody in their chain can take (cases.services.ownership)."""
    from cases.services.ownership import alert_unowned, release_stale_claims

    # Posts and assignments that ended by their date, with no row saved.
    release_stale_claims()
    told = alert_unowned()
    if told:
        logger.warning("Ownership check: %d case(s) without an owner, their streets alerted", told)
    return told


def recover_exports() -> int:
    """Exports whose worker died are started over or failed (cases.exports)."""
    from cases.exports import recover_stale

    recovered = recover_stale()
    if recovered:
        logger.warning("Exports: %d whose worker stopped, started over or failed", recovered)
    return recovered


def run_forever(stop: threading.Event, interval: float | None = None) -> None:
    interval = settings.TIMER_INTERVAL_SECONDS if interval is None else interval
    # It reads every open case, so less often than the sweep, which reads only due ones.
    next_check = 0.0
    while not stop.is_set():
        try:
            fired = sweep()
            if fired:
                logger.info("Deadline timers: %d fired", fired)
            # After the sweep, so its yellow and red notices leave in the same tick.
            send_outbox()
            recover_exports()
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + settings.OWNERSHIP_CHECK_SECONDS
                check_ownership()
                check_calendar()
        except Exception:  # a failed sweep is retried on the next tick, never fatal
            logger.exception("Deadline timer sweep failed")
        finally:
            close_old_connections()
        stop.wait(interval)


def start_in_process() -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(stop,), name="deadline-timers", daemon=True)
    thread.start()
    return stop
