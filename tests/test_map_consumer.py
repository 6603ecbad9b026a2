"""The live map's WebSocket: territory filtering, order, resume from a cursor, refusal."""

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from cases import events
from cases.consumers import MapConsumer
from grid.territory import Territory
from tests.base import POINT_B1, logged_in, map_socket, report

pytestmark = pytest.mark.usefixtures("reference_data")


@pytest.fixture
def cast(committed_cast):
    return committed_cast


async def connected(user) -> WebsocketCommunicator:
    socket = await map_socket(await database_sync_to_async(logged_in)(user))
    assert socket is not None
    return socket


async def events_of(communicator, n: int) -> list[dict]:
    messages = []
    while len(messages) < n:
        message = await communicator.receive_json_from(timeout=3)
        if message["type"] != "checked":  # a gap check's cursor may come between
            messages.append(message)
    assert all(m["type"] == "event" for m in messages), messages
    return [m["event"] for m in messages]


def test_an_anonymous_connection_is_closed_with_its_reason_and_nothing_sent(cast):
    async def scenario():
        communicator = WebsocketCommunicator(MapConsumer.as_asgi(), "/ws/map/")
        communicator.scope["user"] = AnonymousUser()
        ok, _ = await communicator.connect()
        # Accepted and then closed with 4403, so the map can say why and stop
        # retrying (a refused handshake reaches a browser as a bare 1006).
        assert ok
        assert await communicator.receive_output() == {"type": "websocket.close", "code": 4403}
        # The socket is closed: anything sent would already be queued.
        assert await communicator.receive_nothing()

    async_to_sync(scenario)()


def test_a_leader_receives_only_their_streets_cases(cast):
    # Each socket gets its events in order, so "the next event is my own
    # street's" proves the other street's event was never delivered, without
    # waiting a fixed time for nothing to arrive.
    async def scenario():
        leader = await connected(cast.leader)
        outsider = await connected(cast.outsider)
        case_a = await database_sync_to_async(report)(cast.worker)
        case_b = await database_sync_to_async(report)(cast.outsider, point=POINT_B1)
        case_a2 = await database_sync_to_async(report)(cast.worker)

        first, second = await events_of(leader, 2)
        assert [first["case"]["number"], second["case"]["number"]] == [
            case_a.number,
            case_a2.number,
        ]
        assert first["action"] == "reported"
        assert "parties" not in first["case"]
        (event,) = await events_of(outsider, 1)
        assert event["case"]["number"] == case_b.number
        await leader.disconnect()
        await outsider.disconnect()

    async_to_sync(scenario)()


def test_events_arrive_in_sequence_order(cast):
    async def scenario():
        leader = await connected(cast.leader)
        for _ in range(3):
            await database_sync_to_async(report)(cast.worker)
        seqs = [e["seq"] for e in await events_of(leader, 3)]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 3
        await leader.disconnect()

    async_to_sync(scenario)()


def test_a_reconnecting_map_gets_what_it_missed_after_its_cursor(cast):
    async def scenario():
        first = await connected(cast.leader)
        seen = await database_sync_to_async(report)(cast.worker)
        (event,) = await events_of(first, 1)
        cursor = event["seq"]
        await first.disconnect()

        missed = [await database_sync_to_async(report)(cast.worker) for _ in range(2)]

        again = await connected(cast.leader)
        await again.send_json_to({"type": "resume", "after": cursor})
        replayed = await events_of(again, 2)
        assert [e["case"]["number"] for e in replayed] == [c.number for c in missed]
        assert seen.number not in {e["case"]["number"] for e in replayed}
        done = await again.receive_json_from()
        assert done == {"type": "caught_up", "last_seq": replayed[-1]["seq"]}
        await again.disconnect()

    async_to_sync(scenario)()


def test_a_map_that_missed_too_much_is_told_to_reload(cast, monkeypatch):
    from cases import events

    monkeypatch.setattr(events, "CATCH_UP_LIMIT", 1)

    async def scenario():
        leader = await connected(cast.leader)
        for _ in range(2):
            await database_sync_to_async(report)(cast.worker)
        await events_of(leader, 2)
        await leader.send_json_to({"type": "resume", "after": 0})
        assert await leader.receive_json_from() == {"type": "reload"}
        await leader.disconnect()

    async_to_sync(scenario)()


def test_the_full_stack_authenticates_by_session_cookie(cast, client):
    from project.asgi import application

    client.force_login(cast.leader)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/map/", headers=[(b"cookie", cookie), (b"origin", b"http://127.0.0.1")]
        )
        ok, _ = await communicator.connect()
        assert ok
        assert (await communicator.receive_json_from())["type"] == "hello"
        await communicator.disconnect()

        stranger = WebsocketCommunicator(
            application, "/ws/map/", headers=[(b"origin", b"http://127.0.0.1")]
        )
        await stranger.connect()
        assert await stranger.receive_output() == {"type": "websocket.close", "code": 4403}

    async_to_sync(scenario)()


def test_a_case_transferred_to_another_street_leaves_one_map_and_reaches_the_other(cast):
    from cases import services
    from grid.models import Community, Post, Role
    from tests.base import make_user

    async def scenario():
        admin = await database_sync_to_async(_district_admin)()
        leader_a = await connected(cast.leader)
        outsider = await connected(cast.outsider)  # community B1's dispatcher
        case = await database_sync_to_async(report)(cast.worker)
        (reported,) = await events_of(leader_a, 1)
        assert reported["case"]["number"] == case.number
        b1 = await database_sync_to_async(Community.objects.get)(code__endswith="003001")
        await database_sync_to_async(services.case_transfer)(
            actor=admin, number=case.number, community=b1, reason="属地错误"
        )
        (gone,) = await events_of(leader_a, 1)
        assert (gone["action"], gone["case"]["number"]) == ("transferred_out", case.number)
        (arrived,) = await events_of(outsider, 1)
        assert (arrived["action"], arrived["case"]["community"]) == ("transferred", b1.pk)
        await leader_a.disconnect()
        await outsider.disconnect()

    def _district_admin():
        admin = make_user("district-admin")
        Post.objects.create(
            user=admin, role=Role.ADMINISTRATOR, district=cast.department.street.district
        )
        return admin

    async_to_sync(scenario)()


def layer_members(group: str) -> set:
    """The channels the layer holds for a group (in-memory or pub/sub layer)."""
    layer = get_channel_layer()
    if hasattr(layer, "_get_layer"):  # channels_redis.pubsub: per event loop
        inner = layer._get_layer()
        return set(inner.groups.get(inner._get_group_channel_name(group), ()))
    return set(layer.groups.get(group, ()))


def test_a_process_s_maps_of_one_street_are_one_member_of_its_group(cast):
    # Nothing per socket in the layer: each event reaches this process once, and
    # its hub hands the one encoded frame to every socket of the street.
    async def scenario():
        (street,) = await database_sync_to_async(events.street_ids_for)(
            await database_sync_to_async(Territory.for_user)(cast.leader)
        )
        group = events.street_group(street)
        sockets = [await connected(cast.leader) for _ in range(3)]
        assert len(layer_members(group)) == 1
        case = await database_sync_to_async(report)(cast.worker)
        for socket in sockets:
            (event,) = await events_of(socket, 1)
            assert event["case"]["number"] == case.number
        for socket in sockets:
            await socket.disconnect()
        # The last socket gone, the process leaves the group.
        deadline = time.monotonic() + 10
        while layer_members(group) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert layer_members(group) == set()

    async_to_sync(scenario)()
