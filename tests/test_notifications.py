"""Notifications reach people: the bell's count, the list, marking read, live over /ws/me/."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from cases import services
from cases.models import Notification
from project.asgi import application
from tests.base import api, logged_in, report


def onsite(cast):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    # These tests follow the urge alone: the new-task notices are tests/test_notify_kinds.py's.
    Notification.objects.filter(kind="task").delete()
    return case


def test_an_urge_is_in_the_owners_bell_and_list_and_can_be_marked_read(client, cast):
    case = onsite(cast)
    services.case_urge(actor=cast.leader, number=case.number, note="今天办结")
    client.force_login(cast.worker)
    page = client.get("/cases/tasks/").content.decode()
    assert 'data-count="1"' in page
    listing = client.get("/cases/notifications/").content.decode()
    assert case.number in listing and "今天办结" in listing
    client.post("/cases/notifications/", {"id": Notification.objects.get(user=cast.worker).pk})
    assert 'data-count="0"' in client.get("/cases/tasks/").content.decode()
    # Nobody else's: the dispatcher has none, and cannot mark the worker's.
    client.force_login(cast.dispatcher)
    assert "今天办结" not in client.get("/cases/notifications/").content.decode()


def test_the_api_lists_only_mine_and_marks_only_mine(cast):
    case = onsite(cast)
    services.case_urge(actor=cast.leader, number=case.number, note="请尽快")
    mine = api(cast.worker).get("/api/v1/notifications/", {"unread": "1"}).json()
    assert [(n["kind"], n["case"]) for n in mine] == [("urge", case.number)]
    theirs = Notification.objects.get(user=cast.worker2).pk
    answer = api(cast.worker).post("/api/v1/notifications/read/", {"ids": [theirs]}, format="json")
    assert answer.json() == {"marked": 0}
    assert not Notification.objects.get(pk=theirs).read
    assert api(cast.worker).post("/api/v1/notifications/read/", {}, format="json").json() == {
        "marked": 1
    }
    bad = api(cast.worker).post("/api/v1/notifications/read/", {"ids": "x"}, format="json")
    assert bad.status_code == 400


@pytest.mark.usefixtures("reference_data")
def test_a_new_notification_reaches_the_persons_open_page_live(committed_cast):
    cast = committed_cast

    async def scenario():
        session = await database_sync_to_async(logged_in)(cast.worker)
        cookie = f"sessionid={session.cookies['sessionid'].value}"
        socket = WebsocketCommunicator(
            application,
            "/ws/me/",
            headers=[(b"origin", b"http://127.0.0.1"), (b"cookie", cookie.encode())],
        )
        connected, _ = await socket.connect()
        assert connected
        assert await socket.receive_json_from(timeout=5) == {"type": "unread", "count": 0}
        case = await database_sync_to_async(onsite)(cast)
        await database_sync_to_async(services.case_urge)(
            actor=cast.leader, number=case.number, note="督办"
        )
        assert await socket.receive_json_from(timeout=5) == {"type": "unread", "count": 1}
        await socket.disconnect()

    async_to_sync(scenario)()


def test_an_anonymous_bell_socket_is_closed(db):
    async def scenario():
        socket = WebsocketCommunicator(
            application, "/ws/me/", headers=[(b"origin", b"http://127.0.0.1")]
        )
        connected, _ = await socket.connect()
        assert connected
        assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}

    async_to_sync(scenario)()


def test_marking_a_bad_id_or_a_list_body_marks_nothing(client, cast):
    case = onsite(cast)
    services.case_urge(actor=cast.leader, number=case.number, note="快")
    client.force_login(cast.worker)
    for bad in ("-1", "abc", "²"):
        assert client.post("/cases/notifications/", {"id": bad}).status_code == 400
    listed = api(cast.worker).post("/api/v1/notifications/read/", [1, 2], format="json")
    assert listed.status_code == 400
    assert Notification.objects.filter(user=cast.worker, read=False).count() == 1
