"""The raw fan-out baseline: Redis pub/sub → a plain ASGI WebSocket server → N sockets.

    RAW_REDIS_URL=redis://127.0.0.1:6379/0 RAW_CHANNEL=bench-raw-events \\
        gunicorn -k uvicorn_worker.UvicornWorker -w 2 bench.ws_raw:app

No Django, no Channels: each server process subscribes once (redis.asyncio)
and writes every message it gets, as it is, to each of its open sockets. This
is the floor a live map's fan-out can be held against: bench/ws_fanout.py
starts it beside the real server, on the same gunicorn + uvicorn worker, and
measures both in turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from redis import asyncio as aioredis

CHANNEL = os.getenv("RAW_CHANNEL", "bench-raw-events")
HELLO = '{"type": "hello", "last_seq": 0}'


class FanOut:
    """This process's sockets and its one subscription."""

    def __init__(self) -> None:
        self.sockets: set = set()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.listen())

    async def listen(self) -> None:
        # socket_timeout=None: an idle subscription must not time out (see LIBRARIES.md).
        redis = aioredis.Redis.from_url(os.environ["RAW_REDIS_URL"], socket_timeout=None)
        async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(CHANNEL)
            async for message in pubsub.listen():
                if message["type"] != "message":
                    continue
                frame = {"type": "websocket.send", "text": message["data"].decode()}
                for send in list(self.sockets):
                    with contextlib.suppress(Exception):  # a socket closing meanwhile
                        await send(frame)


fan_out = FanOut()


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "http":  # the readiness probe
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    await receive()  # websocket.connect
    fan_out.start()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": HELLO})
    fan_out.sockets.add(send)
    try:
        while (await receive())["type"] != "websocket.disconnect":
            pass
    finally:
        fan_out.sockets.discard(send)
