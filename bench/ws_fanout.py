"""Live-map fan-out beside the raw baseline: delay from commit to receipt with many sockets.

    DATABASE_URL=postgis://…/gridcase_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/ws_fanout.py --clients 200 1000 --events 20 --turns 2

Starts two servers on the same gunicorn + uvicorn worker, WORKERS processes
each (2, as production's WEB_WORKERS=2):
  raw  bench/ws_raw.py: one Redis subscription per process, each message written
       as it is to every socket (no Django, no Channels): the floor;
  map  GridCase on the database, N clients on /ws/map/ as one street leader.
Then, in turns, for each N: the raw server with K and K+1 client processes
(when the two agree the clients are not the limit), then the map with K.
Each turn sends EVENTS events 100 ms apart: the raw ones published to Redis
from this process with their publish time, the map's as cases reported in
the leader's street through the services, timed where the committed entry
is handed to the channel layer. Each client process (an asyncio loop with
`websockets`) stamps its receipts; delay = receipt − commit (or publish).
Clients and servers share this machine's cores.

--intake R adds the intake case: 200 maps open (or the first --clients),
reports at R a second for --seconds from --writers threads (the rate
bench/intake.py measured the server to take), every map must get every event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from urllib.parse import urlparse

import redis
import websockets
from common import PRODUCTION_LIKE, ROOT, machine, percentile, person  # noqa: I001
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import close_old_connections, connections
from django.db.models import Count
from django.test import override_settings

from cases import events, services
from cases.models import Category, Source, TimelineEntry
from grid.models import CellAssignment, GridCell, Post, Role, Street

# How long clients wait for the last deliveries before counting the rest lost.
PATIENCE = 30.0


def session_cookie(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"sessionid={session.session_key}"


# ---- client processes -------------------------------------------------------------


def client_process(pipe, url: str, cookie: str, count: int) -> None:
    """Open `count` sockets, say ready, record every event's (seq, receipt time)."""
    asyncio.run(_clients(pipe, url, cookie, count))


async def _clients(pipe, url: str, cookie: str, count: int) -> None:
    receipts: list[tuple[int, float]] = []
    per_socket = [0] * count
    gate = asyncio.Semaphore(20)  # connecting 1,000 at once would time out handshakes

    async def connect(i: int):
        async with gate:
            ws = await websockets.connect(
                url,
                additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"},
                max_size=None,
                open_timeout=120,
                ping_interval=None,
            )
            await ws.recv()  # hello
            return ws

    sockets = await asyncio.gather(*(connect(i) for i in range(count)))

    async def listen(i: int, ws) -> None:
        async for message in ws:
            data = json.loads(message)
            if data.get("type") == "event":
                receipts.append((data["event"]["seq"], time.time()))
                per_socket[i] += 1

    listeners = [asyncio.create_task(listen(i, ws)) for i, ws in enumerate(sockets)]
    pipe.send("ready")
    expected = await asyncio.to_thread(pipe.recv)
    deadline = time.monotonic() + PATIENCE
    while min(per_socket) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for task in listeners:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    pipe.send(receipts)


def measure(url: str, cookie: str, clients: int, processes: int, publish) -> tuple[list, int]:
    """Spread `clients` over `processes`, run `publish` (→ {seq: sent at}), gather delays."""
    connections.close_all()  # the children must not share this process's database socket
    context = multiprocessing.get_context("fork")
    pipes, children = [], []
    for i in range(processes):
        share = clients // processes + (1 if i < clients % processes else 0)
        ours, theirs = context.Pipe()
        child = context.Process(target=client_process, args=(theirs, url, cookie, share))
        child.start()
        pipes.append(ours)
        children.append(child)
    for pipe in pipes:
        if pipe.recv() != "ready":
            raise RuntimeError("a client process failed")
    sent = publish()
    for pipe in pipes:
        pipe.send(len(sent))
    delays = []
    for pipe in pipes:
        delays += [at - sent[seq] for seq, at in pipe.recv() if seq in sent]
    for child in children:
        child.join()
    return delays, len(sent) * clients - len(delays)


# ---- what is published ------------------------------------------------------------


class Map:
    """Cases reported in the leader's street; timed at the hand-over to the layer."""

    def __init__(self, street: Street):
        self.street = street
        self.seen_subscribers = "–"
        self.worker = person("bench-worker", Role.GRID_WORKER, street=street)
        self.cell = GridCell.objects.filter(community__street=street).first()
        CellAssignment.objects.get_or_create(worker=self.worker, cell=self.cell)
        Post.objects.get_or_create(
            user=self.worker, role=Role.GRID_WORKER, community=self.cell.community
        )
        self.category = Category.objects.get(code="0401")
        self.sent: dict[int, float] = {}
        self.lock = threading.Lock()
        original = events.broadcast

        def stamped(payloads):
            now = time.time()
            with self.lock:
                for payload in payloads:
                    self.sent[payload["seq"]] = now
            original(payloads)

        events.broadcast = stamped

    def report(self) -> None:
        services.case_report(
            actor=self.worker,
            category=self.category,
            description="基准",
            location=self.cell.boundary.point_on_surface,
            source=Source.GRID_WORKER,
        )

    def subscribers(self) -> str:
        """Redis's subscribers of the street's group channel: one per web process."""
        layer = settings.CHANNEL_LAYERS["default"]
        if not layer["BACKEND"].endswith("RedisPubSubChannelLayer"):
            return "–"
        name = f"{layer['CONFIG']['prefix']}__group__{events.street_group(self.street.pk)}"
        return str(redis.Redis.from_url(settings.REDIS_URL).pubsub_numsub(name)[0][1])

    def paced(self, count: int) -> dict[int, float]:
        self.sent.clear()
        self.seen_subscribers = self.subscribers()
        for _ in range(count):
            self.report()
            time.sleep(0.1)
        return dict(self.sent)

    def at_rate(self, rate: float, seconds: float, writers: int) -> dict[int, float]:
        """Reports at `rate` a second in total from `writers` threads, each paced."""
        self.sent.clear()
        interval = writers / rate
        end = time.monotonic() + seconds

        def write():
            next_at = time.monotonic()
            try:
                while next_at < end:
                    self.report()
                    next_at += interval
                    time.sleep(max(next_at - time.monotonic(), 0))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        close_old_connections()
        return dict(self.sent)


class Raw:
    """Events of the map's shape published straight to Redis, stamped at publish."""

    def __init__(self, channel: str):
        self.redis = redis.Redis.from_url(settings.REDIS_URL)
        self.channel = channel
        entry = TimelineEntry.objects.select_related("case__category", "case__street").last()
        self.sample = events.event_payload(entry)
        self.seq = 10**9

    def paced(self, count: int) -> dict[int, float]:
        sent = {}
        for _ in range(count):
            self.seq += 1
            frame = json.dumps({"type": "event", "event": self.sample | {"seq": self.seq}})
            sent[self.seq] = time.time()
            self.redis.publish(self.channel, frame)
            time.sleep(0.1)
        return sent


# ---- servers and output ------------------------------------------------------------


@contextmanager
def raw_server(workers: int, channel: str):
    """bench/ws_raw.py on gunicorn with the production worker class, backlog and workers."""
    from tests.live import free_port

    port = free_port()
    log = open(ROOT / "var" / f"raw-{port}.log", "w")  # noqa: SIM115 - closed below
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO")}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker"]
        + ["-w", str(workers), "--backlog", "1024", "-b", f"127.0.0.1:{port}"]
        + ["bench.ws_raw:app"],
        cwd=ROOT,
        env=env | {"RAW_REDIS_URL": settings.REDIS_URL, "RAW_CHANNEL": channel},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("raw server did not start") from None
                time.sleep(0.2)
        yield f"ws://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def cell(delays: list[float], lost: int) -> str:
    if not delays:
        return f"nothing arrived, {lost} lost"
    return (
        f"{statistics.median(delays) * 1000:.0f} / {percentile(delays, 0.99) * 1000:.0f} ms"
        + f", {lost} lost"
    )


def ratio(map_delays: list[float], raw_delays: list[float]) -> str:
    if not map_delays or not raw_delays:
        return "–"
    p50 = statistics.median(map_delays) / statistics.median(raw_delays)
    p99 = percentile(map_delays, 0.99) / percentile(raw_delays, 0.99)
    return f"{p50:.1f}× / {p99:.1f}×"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="web workers, both servers")
    parser.add_argument("--procs", type=int, default=4, help="client processes (K)")
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--intake", type=float, help="reports a second with 200 maps open")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    if not settings.REDIS_URL:
        raise SystemExit("set REDIS_URL: the servers and this process share Redis")
    from tests.live import live_server

    street = Street.objects.annotate(n=Count("case")).order_by("-n").first()
    leader = person("bench-leader", Role.LEADER, street=street)
    publishers = {"map": Map(street)}
    # Pub/sub channels are global across Redis databases: a name of our own.
    db = urlparse(settings.REDIS_URL).path.strip("/") or "0"
    raw = Raw(f"bench-raw-{db}-{os.getpid()}")
    # The session's hash is keyed with the server's SECRET_KEY, not this process's.
    with override_settings(SECRET_KEY=PRODUCTION_LIKE["SECRET_KEY"]):
        cookie = session_cookie(leader)
    k = args.procs
    print(f"# WebSocket fan-out — {machine()}\n")
    print(f"gunicorn + uvicorn worker × {args.workers} for both servers; layer: ", end="")
    print(f"{settings.CHANNEL_LAYERS['default']['BACKEND']}; load before: {load()}\n")
    print(f"p50 / p99 commit → receipt, {args.events} events 100 ms apart per run\n")
    print(
        f"| clients | turn | raw, {k} client procs | raw, {k + 1} | map, {k} | map ÷ raw "
        "| Redis subscribers of the street |"
    )
    print("|---|---|---|---|---|---|---|")
    with (
        raw_server(args.workers, raw.channel) as raw_url,
        live_server(workers=args.workers, **PRODUCTION_LIKE) as base,
    ):
        map_url = base.replace("http://", "ws://") + "/ws/map/"
        pooled: dict[int, tuple[list, list]] = {}
        for clients in args.clients:
            pooled[clients] = ([], [])
            for turn in range(1, args.turns + 1):
                raw_k = measure(raw_url, "", clients, k, lambda: raw.paced(args.events))
                raw_k1 = measure(raw_url, "", clients, k + 1, lambda: raw.paced(args.events))
                mapped = measure(
                    map_url, cookie, clients, k, lambda: publishers["map"].paced(args.events)
                )
                pooled[clients][0].extend(raw_k[0] + raw_k1[0])
                pooled[clients][1].extend(mapped[0])
                print(
                    f"| {clients:,} | {turn} | {cell(*raw_k)} | {cell(*raw_k1)} "
                    f"| {cell(*mapped)} | {ratio(mapped[0], raw_k[0])} "
                    f"| {publishers['map'].seen_subscribers} |",
                    flush=True,
                )
        print("\nAll turns together (raw: both client-process counts):\n")
        print("| clients | raw | map | map ÷ raw |")
        print("|---|---|---|---|")
        for clients, (raw_all, map_all) in pooled.items():
            print(
                f"| {clients:,} | {cell(raw_all, 0)} | {cell(map_all, 0)} "
                f"| {ratio(map_all, raw_all)} |".replace(", 0 lost", "")
            )
        if args.intake:
            clients = args.clients[0]
            delays, lost = measure(
                map_url,
                cookie,
                clients,
                k,
                lambda: publishers["map"].at_rate(args.intake, args.seconds, args.writers),
            )
            reported = (len(delays) + lost) // clients
            print(
                f"\nIntake: {clients} maps, {reported} reports in {args.seconds:g} s "
                f"({reported / args.seconds:.0f}/s, asked {args.intake:g}/s): {cell(delays, lost)}"
            )
    print(f"\nload after: {load()}")


if __name__ == "__main__":
    main()
