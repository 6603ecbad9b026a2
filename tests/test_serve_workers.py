"""`manage.py serve --workers 2`: two daphne processes on one port, supervised."""

import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from cases.models import Case
from tests.base import POINT_A1_001, build_cast, build_territory
from tests.live import live_server, post_json


def workers(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def report_through(url: str, token: str, text: str) -> dict:
    lon, lat = POINT_A1_001
    body = {"category": "0401", "description": text, "lon": lon, "lat": lat}
    return post_json(url + "/api/v1/cases/", body, token)


def wait_for(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.redis
def test_two_workers_share_the_port_and_a_dead_one_is_restarted(reference_data):
    cast = build_cast(build_territory())
    token = Token.objects.create(user=cast.worker).key
    with live_server(args=("--workers", "2")) as url:
        first = workers(url.pid)
        assert len(first) == 2
        numbers = {report_through(url, token, f"并发{i}")["number"] for i in range(6)}
        assert len(numbers) == 6

        time.sleep(5)  # past the supervisor's "died at once" window
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: len(workers(url.pid)) == 2 and first[0] not in workers(url.pid))
        wait_for(lambda: urllib.request.urlopen(url + "/healthz", timeout=2).status == 200)
        numbers.add(report_through(url, token, "重启之后")["number"])
    assert Case.objects.filter(number__in=numbers).count() == 7


def test_a_worker_freezes_start_up_before_it_serves_and_before_timers_start(monkeypatch):
    # What start-up built (models, URL patterns, every view) is kept out of
    # the collector's walks; a sweep started before the freeze would have its
    # objects frozen for good, so timers start after it.
    import gc

    import daphne.server

    from frontend.management.commands import serve

    seen: dict[str, int] = {}

    class Server:
        def __init__(self, application, endpoints, signal_handlers):
            self.endpoints = endpoints

        def run(self) -> None:
            seen["serving"] = gc.get_freeze_count()

    def start_timers() -> None:
        seen["timers"] = gc.get_freeze_count()

    monkeypatch.setattr(daphne.server, "Server", Server)
    monkeypatch.setattr(serve, "_start_timers", start_timers)
    before = gc.get_freeze_count()
    try:
        serve.Command()._daphne(["tcp:port=0"], timers=True)
    finally:
        gc.unfreeze()
    assert seen["timers"] > before
    assert seen["serving"] > before
