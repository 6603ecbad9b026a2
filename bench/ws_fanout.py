"""Live-map fan-out: delay from commit to receipt with many WebSocket clients.

    DATABASE_URL=postgis://…/gridcase_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/ws_fanout.py --clients 200 1000 --events 20

Starts the production server (gunicorn, W uvicorn workers; one by default) on
the database, connects N clients to /ws/map/ as a street leader, then reports EVENTS cases in that
street from this process through the services. The commit time is taken
where the service hands the committed entry to the channel layer (Redis);
each client stamps its receipt. Client and server share this machine's two
cores, so the figures include the clients' own work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import websockets
from common import PRODUCTION_LIKE, machine, person, summary  # noqa: I001
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db.models import Count
from django.test import override_settings

from cases import events, services
from cases.models import Category, Source
from grid.models import CellAssignment, GridCell, Post, Role, Street


def session_cookie(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"sessionid={session.session_key}"


async def run(url: str, cookie: str, clients: int, report) -> list[float]:
    receipts: dict[int, list[float]] = {}
    sockets = []
    for _ in range(clients):
        ws = await websockets.connect(
            url,
            additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"},
            max_size=None,
            open_timeout=60,
        )
        await ws.recv()  # hello
        sockets.append(ws)

    async def listen(ws):
        async for message in ws:
            data = json.loads(message)
            if data.get("type") == "event":
                receipts.setdefault(data["event"]["seq"], []).append(time.time())

    listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
    sent: dict[int, float] = await asyncio.to_thread(report)
    expected = len(sent) * clients
    deadline = time.monotonic() + 60
    while sum(len(v) for v in receipts.values()) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    for task in listeners:
        task.cancel()
    for ws in sockets:
        await ws.close()
    delays = [t - sent[seq] for seq, times in receipts.items() if seq in sent for t in times]
    lost = len(sent) * clients - len(delays)
    if lost:
        print(
            f"  ({lost} of {len(sent) * clients} deliveries missing: the layer dropped them;"
            " maps would catch up from the timeline)"
        )
    return delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="web workers (WEB_WORKERS)")
    args = parser.parse_args()
    if not settings.REDIS_URL:
        raise SystemExit("set REDIS_URL: the server and this process share the Redis layer")
    from tests.live import live_server

    street = Street.objects.annotate(n=Count("case")).order_by("-n").first()
    leader = person("bench-leader", Role.LEADER, street=street)
    worker = person("bench-worker", Role.GRID_WORKER, street=street)
    cell = GridCell.objects.filter(community__street=street).first()
    CellAssignment.objects.get_or_create(worker=worker, cell=cell)
    Post.objects.get_or_create(user=worker, role=Role.GRID_WORKER, community=cell.community)
    category = Category.objects.get(code="0401")
    point = cell.boundary.point_on_surface
    sent: dict[int, float] = {}
    original = events.broadcast

    def stamped(payloads):
        now = time.time()
        for payload in payloads:
            sent[payload["seq"]] = now
        original(payloads)

    events.broadcast = stamped

    def report() -> dict[int, float]:
        for _ in range(args.events):
            services.case_report(
                actor=worker,
                category=category,
                description="基准",
                location=point,
                source=Source.GRID_WORKER,
            )
            time.sleep(0.1)
        return dict(sent)

    print(f"# WebSocket fan-out — {machine()}\n")
    print(f"gunicorn + uvicorn × {args.workers}\n")
    print("| clients | events | commit → receipt |")
    print("|---|---|---|")
    # The session's hash is keyed with the server's SECRET_KEY, not this process's.
    with override_settings(SECRET_KEY=PRODUCTION_LIKE["SECRET_KEY"]):
        cookie = session_cookie(leader)
    with live_server(workers=args.workers, **PRODUCTION_LIKE) as base:
        url = base.replace("http://", "ws://") + "/ws/map/"
        for clients in args.clients:
            sent.clear()
            delays = asyncio.run(run(url, cookie, clients, report))
            print(f"| {clients} | {args.events} | {summary(delays)} |", flush=True)


if __name__ == "__main__":
    main()
