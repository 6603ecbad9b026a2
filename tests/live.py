"""A real GridCase server (gunicorn with uvicorn workers, as deployed) on the test
database, for browser and multi-process tests. Use it from transactional tests:
the server is another process and sees only committed rows."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_database_url() -> str:
    db = connection.settings_dict
    if settings.IS_POSTGIS:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        return f"postgis://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"spatialite:///{db['NAME']}"


class ServerURL(str):
    """The server's base URL, which also knows the server's process id."""

    pid: int


# The production command line, from its one configuration (project/gunicorn.conf.py).
SERVER = [sys.executable, "-m", "gunicorn", "-c", "project/gunicorn.conf.py"]
APPLICATION = "project.asgi:application"


@contextmanager
def live_server(*, workers: int = 1, **env):
    """Start the server with `workers` on a free port against the test database.

    `url.pid` is gunicorn's master; its workers are its children.
    """
    port = free_port()
    environment = (
        os.environ
        | {
            "DATABASE_URL": server_database_url(),
            "TIMERS": "off",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_WORKERS": str(workers),
        }
        | env
    )
    # A value of None removes the variable (the server's own default then holds).
    environment = {k: v for k, v in environment.items() if v is not None}
    (ROOT / "var").mkdir(exist_ok=True)  # a fresh clone's benchmarks run before anything made it
    log = open(ROOT / "var" / f"live-{port}.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [*SERVER, APPLICATION],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = ServerURL(f"http://127.0.0.1:{port}")
    url.pid = process.pid
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).read()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(
                        "server did not start:\n" + (ROOT / "var" / f"live-{port}.log").read_text()
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()  # gunicorn stops its workers gracefully on SIGTERM
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# The production worker for background jobs (exports), as `make run` and compose start it.
TASK_WORKER = [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay"]


@contextmanager
def task_worker(**env):
    """Run `manage.py db_worker` against the test database until the block ends.

    It polls for jobs every 0.1 s; a value of None in `env` removes a variable.
    """
    environment = (
        os.environ
        | {"DATABASE_URL": server_database_url(), "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
        | env
    )
    environment = {k: v for k, v in environment.items() if v is not None}
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / f"worker-{os.getpid()}.log", "a")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [*TASK_WORKER, "--interval", "0.1"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()  # lets a running job finish, then exits
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def workers_of(pid: int) -> list[int]:
    """The server's worker processes: its master's children."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in children]


def post_json(url: str, data: dict, token: str) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(data).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium():
    """Debian's chromium. Start it after the database work: Playwright's sync API
    runs an event loop in this thread, where Django then refuses queries."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
