"""An open map socket follows its person's access as it is now: a post ended,
a post gained, a logout, a deactivated account."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from grid.models import Post, Role
from tests.base import POINT_B1, logged_in, map_socket, report

pytestmark = pytest.mark.usefixtures("reference_data")


@pytest.fixture
def cast(committed_cast):
    return committed_cast


@pytest.fixture
def street_a(cast):
    from grid.models import Street

    return Street.objects.get(code="420106002")


async def socket_of(session) -> WebsocketCommunicator:
    socket = await map_socket(session)
    assert socket is not None
    return socket


def move_to_street_a(person, street_a) -> None:
    """End the person's post in street B and give them one in street A."""
    Post.objects.filter(user=person, ended__isnull=True).update(ended=timezone.now())
    Post.objects.create(user=person, role=Role.LEADER, street=street_a)


def test_a_socket_follows_a_post_moved_to_another_street(cast, street_a):
    session = logged_in(cast.outsider)

    async def scenario():
        socket = await socket_of(session)
        b_before = await database_sync_to_async(report)(cast.outsider, point=POINT_B1)
        assert (await socket.receive_json_from(timeout=3))["event"]["case"]["number"] == (
            b_before.number
        )

        await database_sync_to_async(move_to_street_a)(cast.outsider, street_a)
        assert await socket.receive_json_from(timeout=3) == {"type": "territory"}

        b_after = await database_sync_to_async(report)(cast.admin, point=POINT_B1)
        a_after = await database_sync_to_async(report)(cast.worker)
        # Events come in order: the next one being A's proves B's never came.
        message = await socket.receive_json_from(timeout=3)
        assert message["event"]["case"]["number"] == a_after.number
        assert b_after.number != a_after.number

        # A resume replays only what the person may see now: no street B history.
        await socket.send_json_to({"type": "resume", "after": 0})
        replayed = []
        while (message := await socket.receive_json_from(timeout=3))["type"] == "event":
            replayed.append(message["event"]["case"]["number"])
        assert message["type"] == "caught_up"
        assert b_before.number not in replayed and b_after.number not in replayed
        assert a_after.number in replayed
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_socket_is_closed_when_its_person_has_no_post_left(cast):
    session = logged_in(cast.outsider)

    async def scenario():
        socket = await socket_of(session)
        await database_sync_to_async(Post.objects.filter(user=cast.outsider).update)(
            ended=timezone.now()
        )
        # A queryset update() sends no signal: a post saved through the ORM does.
        post = await database_sync_to_async(Post.objects.filter(user=cast.outsider).first)()
        await database_sync_to_async(post.save)()
        closed = await socket.receive_output(timeout=3)
        assert closed == {"type": "websocket.close", "code": 4403}

    async_to_sync(scenario)()


def test_logout_closes_that_sessions_sockets_and_no_others(cast):
    leaving = logged_in(cast.leader)
    staying = logged_in(cast.leader)  # the same leader on another screen

    async def scenario():
        socket = await socket_of(leaving)
        other = await socket_of(staying)
        await database_sync_to_async(leaving.logout)()
        assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}

        case = await database_sync_to_async(report)(cast.worker)
        message = await other.receive_json_from(timeout=3)
        assert message["event"]["case"]["number"] == case.number
        await other.disconnect()

    async_to_sync(scenario)()


def test_a_deactivated_person_loses_their_socket(cast):
    session = logged_in(cast.leader)

    async def scenario():
        socket = await socket_of(session)
        cast.leader.is_active = False
        await database_sync_to_async(cast.leader.save)()
        assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}

    async_to_sync(scenario)()


def test_a_staffing_change_elsewhere_leaves_a_socket_as_it_was(cast):
    session = logged_in(cast.leader)

    async def scenario():
        socket = await socket_of(session)
        b1 = await database_sync_to_async(lambda: cast.outsider.posts.get().community)()
        await database_sync_to_async(Post.objects.create)(
            user=cast.worker2, role=Role.DISPATCHER, community=b1
        )
        case = await database_sync_to_async(report)(cast.worker)
        # No "territory" message: the next thing this map hears is the new case.
        message = await socket.receive_json_from(timeout=3)
        assert message["type"] == "event" and message["event"]["case"]["number"] == case.number
        await socket.disconnect()

    async_to_sync(scenario)()


def test_one_transaction_of_many_changes_tells_the_sockets_once(
    territory, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from grid import access
    from tests.base import make_user

    told = []
    monkeypatch.setattr(access, "send", lambda group, message: told.append((group, message)))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for n in range(5):
            Post.objects.create(
                user=make_user(f"new{n}"), role=Role.DISPATCHER, community=territory.a1
            )
    assert told == [(access.ACCESS_GROUP, {"type": "access.changed"})]
