"""gunicorn's settings for GridCase: one place for `make run`, the tests, the image and bench/.

    gunicorn -c project/gunicorn.conf.py project.asgi:application

gunicorn starts, watches and restarts the worker processes; each worker is
uvicorn (uvloop, httptools) running project.asgi: Django's own handler for
HTTP, channels for the map's WebSocket. Chosen by measurement against
daphne and granian (docs/benchmarks.md, "Servers").
"""

import os

bind = f"{os.getenv('HOST', '127.0.0.1')}:{os.getenv('PORT', '8000')}"
# One process uses one core at a time: one worker per core. Several need Redis
# (REDIS_URL): the in-memory channel layer is per process.
workers = int(os.getenv("WEB_WORKERS", "1"))
if workers > 1 and not os.getenv("REDIS_URL"):
    raise SystemExit("WEB_WORKERS > 1 needs REDIS_URL: each worker's in-memory layer is its own.")
if workers > 1 and os.getenv("TIMERS", "inprocess") == "inprocess":
    raise SystemExit("WEB_WORKERS > 1 needs TIMERS=external and one `manage.py run_timers`.")
worker_class = "uvicorn_worker.UvicornWorker"
# Bursts of phones reconnecting at once.
backlog = 1024
keepalive = 5
# SIGTERM: finish what is in flight, then stop.
graceful_timeout = 30
timeout = 60
# Behind a proxy, the addresses whose X-Forwarded-* headers are trusted.
forwarded_allow_ips = os.getenv("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Its control socket would go under $HOME, which the image keeps read-only.
control_socket_disable = True
accesslog = os.getenv("ACCESS_LOG") or None
errorlog = "-"
loglevel = os.getenv("LOG_LEVEL", "info").lower()


def post_worker_init(worker) -> None:
    """The embedded default (one worker, TIMERS=inprocess): the deadline sweeper in a
    thread of the web worker. Deployments run `manage.py run_timers` instead."""
    from django.conf import settings

    if settings.TIMERS == "inprocess":
        from cases.timers import start_in_process

        start_in_process()
