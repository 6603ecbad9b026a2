"""`manage.py serve`: daphne for HTTP and WebSocket, one process or several on one port.

With --workers N > 1 this process starts N daphne processes that each listen
on the port with SO_REUSEPORT (the kernel spreads connections among them),
restarts any that dies, and stops them all on SIGTERM/SIGINT. One Python
process uses one core at a time (the GIL); a report costs 5–17 ms of CPU,
by the machine, so a two-core machine needs two workers to take its load
(docs/benchmarks.md).
Several workers need Redis (REDIS_URL): the in-memory channel layer and cache
are per process.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# A worker that dies within this many seconds of its start is not restarted:
# it would only die again (a bad setting, a port problem).
MIN_UPTIME = 5.0


class Command(BaseCommand):
    help = "Serve HTTP and WebSocket with daphne; with TIMERS=inprocess, run deadline timers too."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.getenv("WEB_WORKERS", "1")),
            help="daphne processes sharing the port (default 1, or WEB_WORKERS)",
        )
        # Internal: a worker started by a supervising `serve` shares the port.
        parser.add_argument("--worker", action="store_true", help="(internal)")

    def handle(self, *args, host: str, port: int, workers: int, worker: bool, **options):
        from daphne.endpoints import build_endpoint_description_strings

        # A deeper accept queue than Twisted's 50: bursts of phones reconnecting.
        endpoints = [e + ":backlog=1024" for e in build_endpoint_description_strings(host, port)]
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        if workers > 1 and not settings.REDIS_URL:
            raise CommandError("Several workers need Redis (REDIS_URL) to share events.")
        if worker:
            self._daphne(endpoints, reuse_port=True)
            return
        self.stdout.write(
            f"GridCase on http://{host}:{port}/ (workers: {workers}, timers: {settings.TIMERS})"
        )
        self.stdout.flush()
        if workers == 1:
            self._daphne(endpoints, timers=True)
        else:
            _start_timers()
            self._supervise(host, port, workers)

    def _daphne(self, endpoints: list[str], reuse_port: bool = False, timers: bool = False) -> None:
        from daphne.server import Server  # installs the asyncio reactor first

        from project.asgi import application

        if reuse_port:
            _bind_with_reuse_port()
        _freeze_start_up()
        if timers:
            # After the freeze: a sweep's objects alive at that moment would
            # otherwise be frozen with start-up's and never freed.
            _start_timers()
        Server(application=application, endpoints=endpoints, signal_handlers=True).run()

    def _supervise(self, host: str, port: int, workers: int) -> None:
        # The workers never run timers: this process does, when TIMERS=inprocess.
        env = os.environ | {"TIMERS": "off"}
        command = [sys.executable, sys.argv[0], "serve", "--worker"]
        command += ["--host", host, "--port", str(port)]

        def start() -> tuple[subprocess.Popen, float]:
            return subprocess.Popen(command, env=env), time.monotonic()

        children = [start() for _ in range(workers)]
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True
            for child, _ in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while not stopping:
                time.sleep(0.5)
                for i, (child, started) in enumerate(children):
                    if child.poll() is None or stopping:
                        continue
                    if time.monotonic() - started < MIN_UPTIME:
                        stop(None, None)
                        raise CommandError(f"A worker exited at once (code {child.returncode}).")
                    self.stderr.write(f"Worker {child.pid} exited ({child.returncode}), restarted.")
                    children[i] = start()
        finally:
            for child, _ in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()


def _start_timers() -> None:
    if settings.TIMERS == "inprocess":
        from cases.timers import start_in_process

        start_in_process()


def _freeze_start_up() -> None:
    """Import every view now, then keep what start-up built out of the garbage collector.

    Models, URL patterns, views and translations live as long as the worker;
    after gc.freeze() a full collection no longer walks them while a request
    waits. Measured on the lookup: p99 and CPU per request both lower
    (docs/benchmarks.md).
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every URL module and view)
    gc.collect()
    gc.freeze()


def _bind_with_reuse_port() -> None:
    """Make Twisted's TCP ports set SO_REUSEPORT, so several workers listen on one port.

    daphne takes endpoint strings only, and Twisted's "tcp:" endpoint has no
    such option; its port class creates the socket in one overridable method.
    """
    from twisted.internet import tcp

    create = tcp.Port.createInternetSocket

    def create_reusable(self):
        sock = create(self)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        return sock

    tcp.Port.createInternetSocket = create_reusable
