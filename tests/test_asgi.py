"""HTTP through the ASGI application the servers run: Django's handler, as we rely on it."""

import contextlib
import threading

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.testing import HttpCommunicator
from django.core import signals
from rest_framework.authtoken.models import Token

from project.asgi import application
from tests.base import POINT_A1_001, build_cast, build_territory, report

pytestmark = pytest.mark.usefixtures("reference_data")


def request(path: str, headers: list[tuple[bytes, bytes]] = ()) -> dict:
    return async_to_sync(answer)(path, headers)


async def answer(path: str, headers: list[tuple[bytes, bytes]] = ()) -> dict:
    headers = [(b"host", b"testserver"), *headers]
    return await HttpCommunicator(application, "GET", path, headers=headers).get_response(10)


def http_scope(path: str, headers: list[tuple[bytes, bytes]] = ()) -> dict:
    """A GET's scope, for tests that drive the application message by message."""
    headers = [(b"host", b"testserver"), *headers]
    return {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": headers}


@contextlib.contextmanager
def finishes_counted():
    """How many times request_finished fires inside the block."""
    finishes: list[int] = []

    def finished(**kwargs):
        finishes.append(1)

    signals.request_finished.connect(finished)
    try:
        yield finishes
    finally:
        signals.request_finished.disconnect(finished)


@pytest.fixture
def leaders_photo(settings, tmp_path) -> tuple[str, list[tuple[bytes, bytes]], bytes]:
    """A reported photo's URL, a street leader's session cookie and the photo's bytes."""
    from django.test import Client

    from tests.base import jpeg

    settings.MEDIA_ROOT = tmp_path
    cast = build_cast(build_territory())
    photo = jpeg()
    case = report(cast.worker, photos=[photo])
    browser = Client()
    browser.force_login(cast.leader)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    photo.seek(0)
    return case.attachments.get().file.url, [(b"cookie", cookie)], photo.read()


def test_an_api_request_is_answered_with_the_callers_data_and_a_401_without_a_token():
    cast = build_cast(build_territory())
    token = Token.objects.create(user=cast.leader).key
    lon, lat = POINT_A1_001
    path = f"/api/v1/territory/locate/?lon={lon}&lat={lat}"
    answer = request(path, [(b"authorization", f"Token {token}".encode())])
    assert answer["status"] == 200, answer["body"]
    assert b'"cell":"420106002001001"' in answer["body"].replace(b" ", b"")
    assert request(path)["status"] == 401


def test_the_view_runs_on_the_thread_the_request_started_and_finished_on(monkeypatch):
    # request_started's and request_finished's receivers (close_old_connections)
    # and the view share a thread, so the connection the view used is the one
    # returned to the pool at the end.
    threads: dict[str, int] = {}

    def started(**kwargs):
        threads["started"] = threading.get_ident()

    def finished(**kwargs):
        threads["finished"] = threading.get_ident()

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    monkeypatch.setattr("frontend.views.connection", _Recorder(threads), raising=True)
    try:
        with finishes_counted() as finishes:
            status, _body = async_to_sync(streamed)(http_scope("/healthz"))
            assert status == 200
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert threads["view"] == threads["started"] == threads["finished"]
    assert threads["view"] != threading.get_ident()
    assert len(finishes) == 1


def test_a_streamed_file_is_sent_whole_and_closed_after_its_last_chunk(leaders_photo):
    # FileResponse streams: it must not be closed (its file shut) before it is sent.
    path, headers, photo = leaders_photo
    with finishes_counted() as finishes:
        status, body = async_to_sync(streamed)(http_scope(path, headers))
    assert status == 200
    assert body == photo
    assert len(finishes) == 1


def test_a_view_that_raises_is_answered_with_a_500(monkeypatch):
    def broken():
        raise RuntimeError("the database is gone")

    monkeypatch.setattr("frontend.views.connection", _Broken(broken), raising=True)
    answer = request("/healthz")
    assert answer["status"] == 500


async def streamed(scope: dict) -> tuple[int, bytes]:
    """GET through the application, reading body messages up to the last (which may be empty).

    channels' HttpCommunicator expects a body in every message, and a stream's
    closing message has none.
    """
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    body = b""
    while True:
        message = await communicator.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            await communicator.wait(10)  # the application closes the response after its last send
            return start["status"], body


class _Recorder:
    """Stands in for django.db.connection in the health view, noting its thread."""

    def __init__(self, threads: dict[str, int]):
        self.threads = threads

    def cursor(self):
        from django.db import connection

        self.threads["view"] = threading.get_ident()
        return connection.cursor()


class _Broken:
    """Stands in for django.db.connection in the health view, failing."""

    def __init__(self, fail):
        self.cursor = fail
