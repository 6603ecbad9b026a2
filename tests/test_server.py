"""The production server as configured (project/gunicorn.conf.py): gunicorn's workers
share the port, a dead one is replaced, and SIGTERM lets a request in flight finish."""

import os
import signal
import threading
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from cases.models import Case
from tests.base import POINT_A1_001, build_cast, build_territory, wait_for
from tests.live import live_server, post_json, workers_of


def report_through(url: str, token: str, text: str) -> dict:
    lon, lat = POINT_A1_001
    body = {"category": "0401", "description": text, "lon": lon, "lat": lat}
    return post_json(url + "/api/v1/cases/", body, token)


def healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(url + "/healthz", timeout=2).status == 200
    except OSError:
        return False


@pytest.mark.redis
def test_two_workers_share_the_port_and_a_dead_one_is_replaced(reference_data):
    cast = build_cast(build_territory())
    token = Token.objects.create(user=cast.worker).key
    with live_server(workers=2) as url:
        wait_for(lambda: len(workers_of(url.pid)) == 2)
        first = workers_of(url.pid)
        numbers = {report_through(url, token, f"并发{i}")["number"] for i in range(6)}
        assert len(numbers) == 6
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: len(workers_of(url.pid)) == 2 and first[0] not in workers_of(url.pid))
        wait_for(lambda: healthy(url))
        numbers.add(report_through(url, token, "重启之后")["number"])
    assert Case.objects.filter(number__in=numbers).count() == 7


def test_sigterm_stops_the_server_after_the_report_in_flight_is_answered(reference_data):
    cast = build_cast(build_territory())
    token = Token.objects.create(user=cast.worker).key
    answers: list[dict] = []

    def send(url: str) -> None:
        for i in range(200):
            try:
                answers.append(report_through(url, token, f"停机{i}"))
            except OSError:  # the server has stopped listening
                return

    with live_server() as url:
        sender = threading.Thread(target=send, args=(url,))
        sender.start()
        wait_for(lambda: len(answers) >= 2)
        os.kill(url.pid, signal.SIGTERM)
        sender.join(timeout=60)
    # Every report the server stored was answered; none is half done.
    stored = set(Case.objects.values_list("number", flat=True))
    assert {a["number"] for a in answers} == stored


def test_several_workers_are_refused_without_redis_or_with_timers_in_each(tmp_path):
    import subprocess
    import sys

    from tests.live import ROOT

    base = {"PATH": "/usr/bin:/bin", "WEB_WORKERS": "2", "HOME": str(tmp_path)}
    config = "import runpy; runpy.run_path('project/gunicorn.conf.py')"
    no_redis = subprocess.run(
        [sys.executable, "-c", config], cwd=ROOT, env=base, capture_output=True, text=True
    )
    assert no_redis.returncode != 0 and "REDIS_URL" in no_redis.stderr
    in_each = subprocess.run(
        [sys.executable, "-c", config],
        cwd=ROOT,
        env=base | {"REDIS_URL": "redis://127.0.0.1:6379/0"},
        capture_output=True,
        text=True,
    )
    assert in_each.returncode != 0 and "TIMERS=external" in in_each.stderr


def test_the_embedded_server_sweeps_deadlines_in_its_worker_and_importers_do_not(reference_data):
    from datetime import timedelta

    import project.asgi  # noqa: F401 - what the socket tests import
    from cases.models import DeadlineState
    from tests.base import report

    assert "deadline-timers" not in {t.name for t in threading.enumerate()}
    cast = build_cast(build_territory())
    case = report(cast.worker)
    Case.objects.filter(pk=case.pk).update(
        step_warn_at=case.reported_at - timedelta(hours=2),
        step_due=case.reported_at - timedelta(hours=1),
        deadline_check_at=case.reported_at - timedelta(hours=2),
    )
    with live_server(TIMERS="inprocess", TIMER_INTERVAL_SECONDS="1"):
        wait_for(
            lambda: Case.objects.get(pk=case.pk).deadline_state == DeadlineState.RED, seconds=60
        )
