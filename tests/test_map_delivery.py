"""Every committed event of a map's territory reaches it — even when the channel
layer drops it or nobody broadcast it — or the map is told to reload.

Compared as sets of events, not by the last number seen: a map whose cursor
moved past a hole would pass a check of the last number.
"""

from __future__ import annotations

import itertools
import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction

from cases import consumers, events
from cases.models import TimelineEntry
from tests.base import POINT_B1, logged_in, map_socket, report

pytestmark = pytest.mark.usefixtures("reference_data")


@pytest.fixture
def cast(committed_cast):
    return committed_cast


@pytest.fixture
def quick_checks(monkeypatch):
    monkeypatch.setattr(consumers, "GAP_CHECK_SECONDS", 0.1)


def dropping(monkeypatch, keep) -> None:
    """The layer delivers only the payloads `keep` lets through (the rest are lost)."""
    deliver = events.broadcast
    monkeypatch.setattr(events, "broadcast", lambda payloads: deliver(list(filter(keep, payloads))))


async def receive_until(socket, wanted: set[int]) -> tuple[set[int], list[dict]]:
    """Events (by seq) until all of `wanted` came; the other messages on the way
    but the gap checks' cursors ("checked")."""
    got: set[int] = set()
    others = []
    while not wanted <= got:
        message = await socket.receive_json_from(timeout=10)
        if message["type"] == "event":
            got.add(message["event"]["seq"])
        elif message["type"] != "checked":
            others.append(message)
    return got, others


async def nothing_but_checks(socket, seconds: float) -> list[dict]:
    """The messages in the next `seconds` other than "checked" (receive_nothing
    polls: a timed-out receive would end the consumer)."""
    others = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if await socket.receive_nothing(timeout=0.05):
            continue
        message = await socket.receive_json_from(timeout=1)
        if message["type"] != "checked":
            others.append(message)
    return others


def street_a_seqs(cast) -> set[int]:
    return set(TimelineEntry.objects.filter(street__code="420106002").values_list("seq", flat=True))


def test_events_the_layer_dropped_reach_the_map_from_the_timeline(cast, quick_checks, monkeypatch):
    alternate = itertools.cycle([True, False])
    dropping(monkeypatch, lambda payload: next(alternate))
    session = logged_in(cast.leader)

    async def scenario():
        socket = await map_socket(session)
        for _ in range(6):
            await database_sync_to_async(report)(cast.worker)
        await database_sync_to_async(report)(cast.outsider, point=POINT_B1)
        wanted = await database_sync_to_async(street_a_seqs)(cast)
        got, others = await receive_until(socket, wanted)
        # More checks find nothing owed, and nothing of street B came.
        assert await nothing_but_checks(socket, 0.3) == []
        assert got == wanted and others == []
        await socket.disconnect()

    async_to_sync(scenario)()


def test_events_nobody_broadcast_reach_the_map(cast, quick_checks, monkeypatch):
    # A web process killed between its commit and its broadcast sends nothing.
    dropping(monkeypatch, lambda payload: False)
    session = logged_in(cast.leader)

    async def scenario():
        socket = await map_socket(session)
        cases = [await database_sync_to_async(report)(cast.worker) for _ in range(3)]
        wanted = await database_sync_to_async(street_a_seqs)(cast)
        got, _ = await receive_until(socket, wanted)
        assert got == wanted and len(cases) == 3
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_map_owed_more_than_it_may_catch_up_is_told_to_reload(cast, quick_checks, monkeypatch):
    monkeypatch.setattr(events, "CATCH_UP_LIMIT", 2)
    dropping(monkeypatch, lambda payload: False)
    session = logged_in(cast.leader)

    def three_at_once():
        with transaction.atomic():  # committed together: one check finds all three owed
            for _ in range(3):
                report(cast.worker)

    async def scenario():
        socket = await map_socket(session)
        await database_sync_to_async(three_at_once)()
        assert await socket.receive_json_from(timeout=10) == {"type": "reload"}
        await socket.disconnect()

    async_to_sync(scenario)()


def test_an_event_delivered_live_is_not_sent_again(cast, quick_checks):
    session = logged_in(cast.leader)

    async def scenario():
        socket = await map_socket(session)
        await database_sync_to_async(report)(cast.worker)
        wanted = await database_sync_to_async(street_a_seqs)(cast)
        got, _ = await receive_until(socket, wanted)
        # Absence is the behaviour here: five checks (0.1 s apart) pass over the
        # delivered events and send none of them again.
        assert await nothing_but_checks(socket, 0.5) == []
        assert got == wanted
        await socket.disconnect()

    async_to_sync(scenario)()


def test_the_map_is_told_how_far_it_has_everything_after_lost_events(
    cast, quick_checks, monkeypatch
):
    # A map that reconnects resumes from this cursor: resuming from "the newest
    # seq seen, less a margin" lost what the layer dropped further back.
    dropping(monkeypatch, lambda payload: False)
    session = logged_in(cast.leader)

    async def scenario():
        socket = await map_socket(session)
        for _ in range(3):
            await database_sync_to_async(report)(cast.worker)
        wanted = await database_sync_to_async(street_a_seqs)(cast)
        got: set[int] = set()
        while True:
            message = await socket.receive_json_from(timeout=10)
            if message["type"] == "event":
                got.add(message["event"]["seq"])
            elif message["type"] == "checked" and message["upto"] >= max(wanted):
                break
        # Every event up to the cursor came before it.
        assert got == wanted
        await socket.disconnect()

    async_to_sync(scenario)()
