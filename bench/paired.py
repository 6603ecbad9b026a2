"""Several servers loaded at the same moments: CPU per report of each one's workers.

    DATABASE_URL=postgis://…/gridcase_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/paired.py --rounds 4 --requests 3000

All the servers run at once on the one database, and the same client threads
post reports to them in turn (report i goes to server i mod N): every server
is loaded alike and sees the same machine speed at the same moments, which
measuring in turns cannot give on a machine whose speed drifts from minute to
minute. Each round prints the CPU per report of each server's workers; the end,
each server's median relative to the first server's, round by round.

A server is `--server 'NAME=command line'`, run from the repository's root with
HOST, PORT and WEB_WORKERS=2 in its environment; "{python}" and "{port}" in it
are filled in. By default: ours (tests/live.py's SERVER + APPLICATION, i.e.
gunicorn with uvicorn workers) against granian (`pip install granian` into the
venv first; it is not a dependency of the project).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress

from common import PRODUCTION_LIKE, ROOT, machine, quiet_collector
from django.db import connection
from intake import cpu_seconds, reporters

from tests.live import APPLICATION, SERVER, free_port, server_database_url

DEFAULT_SERVERS = [
    "gunicorn=" + " ".join(["{python}", *SERVER[1:], APPLICATION]),
    "granian={python} -m granian --interface asginl --workers 2 --respawn-failed-workers"
    " --host 127.0.0.1 --port {port} " + APPLICATION,
]


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (children of any of its threads, recursively)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children = [int(c) for c in f.read().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


@contextmanager
def serve(command: str, env: dict):
    port = free_port()
    argv = [w.replace("{port}", str(port)) for w in shlex.split(command)]
    argv = [sys.executable if w == "{python}" else w for w in argv]
    log = open(ROOT / "var" / f"paired-{port}.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=os.environ | env | {"HOST": "127.0.0.1", "PORT": str(port), "WEB_WORKERS": "2"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{argv} did not start; see {log.name}") from None
                time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        with suppress(ProcessLookupError):  # no worker outlives its master
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def post(url: str, token: str, point, i: int) -> None:
    lon, lat = point
    body = {
        "category": "0401",
        "description": f"配对{i}",
        "lon": lon,
        "lat": lat,
        "client_id": f"paired-{time.time_ns()}-{i}",
    }
    request = urllib.request.Request(
        url + "/api/v1/cases/",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 201, response.status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", action="append", help="NAME=command line (repeatable)")
    parser.add_argument("--requests", type=int, default=3000, help="per round, all servers")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    specs = [s.partition("=")[::2] for s in args.server or DEFAULT_SERVERS]

    _street, _cells, tokens, points = reporters()
    env = PRODUCTION_LIKE | {"DATABASE_URL": server_database_url(), "API_RATE": "1000000/min"}
    connection.close()
    (ROOT / "var").mkdir(exist_ok=True)

    print(f"# Paired — {machine()}\n")
    for name, command in specs:
        print(f"- {name}: `{command}`")
    with ExitStack() as stack:
        servers = [(name, *stack.enter_context(serve(cmd, env))) for name, cmd in specs]
        n = len(servers)

        def one(i: int) -> None:
            post(servers[i % n][1], tokens[i % len(tokens)], points[(i // n) % len(points)], i)

        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(one, range(100 * n)))  # warm up every worker
        quiet_collector()
        workers = {name: descendants(pid) for name, _, pid in servers}
        print("\nworkers: " + "; ".join(f"{k} {v}" for k, v in workers.items()) + "\n")
        results: dict[str, list[float]] = {name: [] for name, _, _ in servers}
        for r in range(args.rounds):
            before = {name: sum(cpu_seconds(pids)) for name, pids in workers.items()}
            start = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(one, range(args.requests)))
            seconds = time.perf_counter() - start
            line = []
            for name, pids in workers.items():
                ms = 1000 * (sum(cpu_seconds(pids)) - before[name]) / (args.requests / n)
                results[name].append(ms)
                line.append(f"{name} {ms:.2f}")
            print(
                f"- round {r + 1}: {args.requests / seconds:.0f} reports/s in all; "
                f"workers' CPU per report: {', '.join(line)} ms",
                flush=True,
            )
    base = servers[0][0]
    print(f"\nMedian of rounds; each round relative to {base} in the same round:")
    for name, values in results.items():
        rel = [100 * (x / b - 1) for x, b in zip(values, results[base], strict=True)]
        print(
            f"- {name}: {statistics.median(values):.2f} ms ({min(values):.2f}–{max(values):.2f}); "
            f"{statistics.median(rel):+.1f} % ({min(rel):+.1f} to {max(rel):+.1f} %)"
        )


if __name__ == "__main__":
    main()
