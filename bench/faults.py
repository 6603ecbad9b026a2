"""Faults under load: nothing acknowledged is lost or doubled, no map misses an event.

    .venv/bin/python bench/faults.py [--seconds 75] [--clients 8] [--maps 3]

Brings up its own PostgreSQL cluster (initdb, a free port, run as the
`postgres` user) and its own Redis, so stopping them touches nothing else on
the machine. Serves GridCase with the production server (gunicorn, 2 uvicorn workers) on them, and
while retrying clients report cases (each with a client id) and live maps
follow street A, it

  1. stops Redis for 10 s,
  2. SIGKILLs a web worker (the supervisor starts another),
  3. restarts PostgreSQL.

Afterwards it checks: every acknowledged report is in the database exactly
once with the number it was answered; no client id made two cases; each
case's state is its last timeline entry's (nothing half-transitioned); the
sequence has no gap; every map holds every committed event of its street
(compared as sets) or was told to reload; and the server answered within its
normal latency again within 10 s of each fault. Prints the counts; exits 1 if
a check fails. Everything it sends goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


# ---- our own PostgreSQL and Redis ------------------------------------------------


class Postgres:
    """A throwaway cluster owned by the `postgres` user (PostgreSQL refuses root)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gridcase-faults-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.data = self.dir / "data"
        self._as_postgres(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres")
        self.start()
        self.psql("template1", "CREATE EXTENSION IF NOT EXISTS postgis")
        self.psql("postgres", "CREATE DATABASE gridfault")

    def _as_postgres(self, *args) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, args)],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def _ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        mode = [] if action == "start" else ["-m", "fast"]  # stop at once, as a crash would
        log = self.dir / "log"
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-o", options, "-l", log, "-w",
                          *mode, action)  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart")

    def psql(self, database: str, sql: str) -> None:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-q", "-c", sql],
            check=True,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgis://postgres@127.0.0.1:{self.port}/gridfault"

    def close(self) -> None:
        try:
            self._ctl("stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._answers, 10, "Redis")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


# ---- load: retrying reporters, a latency probe, live maps ------------------------------


class Reporters:
    """Clients that report cases and retry each one with its client id until answered."""

    def __init__(self, url: str, token: str, clients: int, point: tuple[float, float]):
        self.url, self.token, self.point = url, token, point
        self.acknowledged: dict[str, str] = {}  # client id -> case number answered
        self.attempted: set[str] = set()
        self.retries = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _run(self) -> None:
        while not self.stopping.is_set():
            client_id = uuid.uuid4().hex
            with self.lock:
                self.attempted.add(client_id)
            body = {
                "category": "0401", "description": f"故障演练 {client_id[:8]}",
                "lon": self.point[0], "lat": self.point[1], "client_id": client_id,
            }  # fmt: skip
            # Retry until answered, even past the stop: an unanswered report is the
            # client's to resend, as the phone's outbox does.
            while True:
                number = self._post(body)
                if number is not None:
                    with self.lock:
                        self.acknowledged[client_id] = number
                    break
                with self.lock:
                    self.retries += 1
                time.sleep(0.3)
            time.sleep(0.2)  # each client reports a few times a second

    def _post(self, body: dict) -> str | None:
        request = urllib.request.Request(
            self.url + "/api/v1/cases/",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return json.loads(response.read())["number"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return None


class Probe:
    """One light request every 0.2 s: when did the server answer normally again?"""

    def __init__(self, url: str, token: str, point: tuple[float, float]):
        self.target = f"{url}/api/v1/territory/locate/?lon={point[0]}&lat={point[1]}"
        self.token = token
        self.samples: list[tuple[float, float | None]] = []  # (time, latency or None)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        request = urllib.request.Request(
            self.target, headers={"Authorization": f"Token {self.token}"}
        )
        while not self.stopping.is_set():
            start = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
                    latency = time.monotonic() - start if response.status == 200 else None
            except (urllib.error.URLError, OSError):
                latency = None
            self.samples.append((start, latency))
            time.sleep(0.2)

    def recovered_after(self, fault_end: float, normal: float) -> float | None:
        """Seconds from `fault_end` until answers stayed normal for 2 s (None: never)."""
        after = [(t, lat) for t, lat in self.samples if t >= fault_end]
        for i, (t, _) in enumerate(after):
            window = [lat for u, lat in after[i:] if u < t + 2]
            if window and all(lat is not None and lat <= normal for lat in window):
                return t - fault_end
        return None


def start_maps(url: str, cookie: str, count: int):
    """Live maps that behave as map.js does: apply events, resume on reconnect."""
    import asyncio

    import websockets

    maps = [{"seqs": set(), "reloads": [], "reconnects": 0} for _ in range(count)]
    stopping = threading.Event()

    async def follow(state: dict) -> None:
        last = 0
        while not stopping.is_set():
            try:
                async with websockets.connect(
                    url.replace("http", "ws") + "/ws/map/",
                    additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"},
                    open_timeout=10,
                ) as ws:
                    hello = json.loads(await ws.recv())
                    # The first hello is the "snapshot" this map starts from.
                    state.setdefault("start", hello["last_seq"])
                    after = max(state["start"], last - 200)
                    await ws.send(json.dumps({"type": "resume", "after": after}))
                    while not stopping.is_set():
                        try:
                            data = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                        except TimeoutError:
                            continue
                        if data["type"] == "event":
                            state["seqs"].add(data["event"]["seq"])
                            last = max(last, data["event"]["seq"])
                        elif data["type"] == "reload":
                            state["reloads"].append(last)
            except (OSError, websockets.WebSocketException, TimeoutError):
                state["reconnects"] += 1
                await asyncio.sleep(1)

    def run() -> None:
        async def all_maps():
            await asyncio.gather(*(follow(state) for state in maps))

        asyncio.run(all_maps())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return maps, stopping, thread


# ---- the run ---------------------------------------------------------------------------


def serve(env: dict) -> tuple[subprocess.Popen, str]:
    from tests.live import APPLICATION, SERVER

    port = free_port()
    log = open(ROOT / "var" / f"faults-{port}.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [*SERVER, APPLICATION],
        cwd=ROOT,
        env=env | {"HOST": "127.0.0.1", "PORT": str(port), "WEB_WORKERS": "2"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    wait_until(healthy, 60, "the server")
    return process, url


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=75)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--maps", type=int, default=3)
    parser.add_argument(
        "--capacity", default="1000", help="CHANNEL_CAPACITY: small, and the layer drops events"
    )
    parser.add_argument(
        "--gap-check", default="10", help="MAP_GAP_CHECK_SECONDS (a huge value turns it off)"
    )
    args = parser.parse_args()
    (ROOT / "var").mkdir(exist_ok=True)

    postgres, redis = Postgres(), Redis()
    try:
        env = os.environ | {
            "DATABASE_URL": postgres.url, "REDIS_URL": redis.url, "TIMERS": "off",
            "DEBUG": "false", "SECRET_KEY": "faults-" + "x" * 50, "ALLOWED_HOSTS": "127.0.0.1",
            "CHANNEL_CAPACITY": args.capacity, "MAP_GAP_CHECK_SECONDS": args.gap_check,
        }  # fmt: skip
        os.environ.update(env)
        # This process checks the results across the restart: no pool of its own to go stale.
        os.environ["DB_POOL_SIZE"] = "0"
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env,
                       check=True)  # fmt: skip
        return run(args, postgres, redis, env)
    finally:
        redis.stop()
        postgres.close()


def run(args, postgres: Postgres, redis: Redis, env: dict) -> int:
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    import common  # noqa: F401 - sets Django up on the environment above
    from rest_framework.authtoken.models import Token
    from ws_fanout import session_cookie

    from tests.base import POINT_A1_001, build_cast, build_territory

    cast = build_cast(build_territory())
    token = Token.objects.create(user=cast.worker).key
    leader_token = Token.objects.create(user=cast.leader).key
    cookie = session_cookie(cast.leader)

    server, url = serve(env)
    try:
        return load_and_faults(args, postgres, redis, server, url, token, leader_token, cookie,
                               POINT_A1_001)  # fmt: skip
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def load_and_faults(args, postgres, redis, server, url, token, leader_token, cookie, point) -> int:
    from django.db import connection

    maps, maps_stopping, maps_thread = start_maps(url, cookie, args.maps)
    probe = Probe(url, leader_token, point)
    probe.thread.start()
    reporters = Reporters(url, token, args.clients, point)
    reporters.start()
    begin = time.monotonic()
    faults: list[tuple[str, float]] = []

    def at(seconds: float) -> None:
        time.sleep(max(0.0, begin + seconds - time.monotonic()))

    span = args.seconds
    at(span * 0.15)
    normal_latencies = sorted(lat for _, lat in probe.samples if lat is not None)
    normal = max(0.2, 3 * normal_latencies[int(len(normal_latencies) * 0.99) - 1])
    print(f"normal latency: up to {normal * 1000:.0f} ms (3 × p99 before the faults, at least 200)")

    redis.stop()
    at(span * 0.15 + 10)
    redis.start()
    faults.append(("Redis stopped for 10 s", time.monotonic()))

    at(span * 0.45)
    from tests.live import workers_of

    victim = workers_of(server.pid)[0]
    os.kill(victim, signal.SIGKILL)
    faults.append(("a web worker SIGKILLed", time.monotonic()))

    at(span * 0.7)
    connection.close()
    postgres.restart()
    faults.append(("PostgreSQL restarted", time.monotonic()))

    at(span)
    reporters.stop()
    # The maps' own checks send what the layer lost: give them two periods.
    time.sleep(2 * min(float(args.gap_check), 60) + 5)
    maps_stopping.set()
    probe.stopping.set()
    maps_thread.join(timeout=10)
    return verify(reporters, maps, probe, faults, normal)


def verify(reporters: Reporters, maps: list[dict], probe: Probe, faults, normal: float) -> int:
    from django.db.models import Count, Max, Min

    from cases.models import Case, TimelineEntry

    ok = True

    def check(label: str, passed: bool, detail: str) -> None:
        nonlocal ok
        ok &= passed
        print(f"{'ok  ' if passed else 'FAIL'} {label}: {detail}")

    acked = dict(reporters.acknowledged)  # the reporters have stopped
    unanswered = reporters.attempted - acked.keys()
    check("every report was answered in the end", bool(acked) and not unanswered,
          f"{len(reporters.attempted)} reports, {len(unanswered)} never answered")  # fmt: skip
    stored = dict(
        Case.objects.filter(client_id__in=list(reporters.attempted)).values_list(
            "client_id", "number"
        )
    )
    lost = [c for c in acked if c not in stored]
    wrong = [c for c in acked if c in stored and stored[c] != acked[c]]
    detail = f"{len(acked)} acknowledged, {len(lost)} missing, {len(wrong)} with another number"
    check("acknowledged reports stored", not lost and not wrong, detail)
    doubled = (
        Case.objects.filter(client_id__isnull=False)
        .values("client_id").annotate(n=Count("pk")).filter(n__gt=1).count()
    )  # fmt: skip
    # A unique constraint guards this too; the count says what the retries came to.
    check("no client id made two cases", doubled == 0,
          f"{len(stored)} cases from {len(reporters.attempted)} client ids, "
          f"{reporters.retries} retries")  # fmt: skip
    half = [
        c.number for c in Case.objects.all()
        if c.timeline.order_by("-seq").values_list("to_state", flat=True).first() != c.state
    ]  # fmt: skip
    check("nothing half-transitioned", not half, f"{len(half)} cases off their timeline")
    bounds = TimelineEntry.objects.aggregate(low=Min("seq"), high=Max("seq"), n=Count("pk"))
    gapless = bounds["n"] == bounds["high"] - bounds["low"] + 1
    check(
        "the sequence has no gap",
        gapless,
        f"{bounds['n']} entries, {bounds['low']}–{bounds['high']}",
    )

    street_a = set(
        TimelineEntry.objects.filter(street__code="420106002").values_list("seq", flat=True)
    )
    for i, state in enumerate(maps):
        if "start" not in state:
            check(f"map {i + 1} connected", False, "it never had a hello")
            continue
        owed = {s for s in street_a if s > state["start"]}
        missing = owed - state["seqs"]
        reloaded = state["reloads"]
        # A reload hands the map a new snapshot: what it missed before then is in it.
        covered = {s for s in missing if reloaded and s <= max(reloaded)}
        detail = (
            f"{len(state['seqs'] & owed)}/{len(owed)} received, {len(missing - covered)} missing,"
            f" {len(reloaded)} reloads, {state['reconnects']} reconnects"
        )
        held = bool(owed) and not (missing - covered)
        check(f"map {i + 1} holds every event of its street", held, detail)

    for name, end in faults:
        back = probe.recovered_after(end, normal)
        failed = sum(1 for t, lat in probe.samples if end - 10 <= t <= end + 10 and lat is None)
        detail = "never" if back is None else f"after {back:.1f} s"
        check(f"answers normal again after {name}", back is not None and back <= 10,
              f"{detail} ({failed} probes failed within 10 s of it)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
