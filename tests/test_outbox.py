"""Notifications leave GridCase through the outbox: to the channels each person chose,
retried with backoff while a gateway fails, delivered once, never lost.

The webhook backend is tested against a real HTTP server on this machine
(http.server in a thread) that refuses connections, answers 500, then recovers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from cases import services
from cases.models import Notification, NotificationPreference, OutboxMessage
from cases.services import outbox
from cases.services.notifications import preferences_set
from tests.base import report
from tests.live import free_port

SECRETS = ["赵秘密", "13912345678", "钱当事", "13700001111", "楼道里张三家门口"]


class Gateway:
    """A local webhook gateway: answers each POST with the next status given (then 200)."""

    def __init__(self, port: int, statuses: list[int] | None = None) -> None:
        self.port = port
        self.statuses = list(statuses or [])
        self.received: list[dict] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                gateway.received.append({"key": self.headers["Idempotency-Key"], "body": body})
                status = gateway.statuses.pop(0) if gateway.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/send"


@contextmanager
def gateway(port: int, statuses: list[int] | None = None) -> Iterator[Gateway]:
    found = Gateway(port, statuses)
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()
        thread.join()


def webhook(url: str, body: str, address: str) -> dict:
    return {
        "BACKEND": "cases.outbound.WebhookBackend",
        "ADDRESS": address,
        "URL": url,
        "BODY": body,
        "TIMEOUT": 5,
    }


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def channels(settings, port):
    url = f"http://127.0.0.1:{port}/send"
    settings.NOTIFY_CHANNELS = {
        "robot": webhook(url, "robot", "group"),
        "sms": webhook(url, "sms", "phone"),
        "email": {"BACKEND": "cases.outbound.EmailBackend", "ADDRESS": "email"},
    }
    settings.NOTIFY_RETRY_SECONDS = 30
    settings.NOTIFY_MAX_ATTEMPTS = 4
    return settings.NOTIFY_CHANNELS


def urged_case(cast):
    """A case full of what must not leave (names, phones, words), urged to its workers."""
    case = report(
        cast.dispatcher,
        code="0101",
        source="hotline",
        description=SECRETS[4],
        reporter_name=SECRETS[0],
        reporter_phone=SECRETS[1],
        parties=[{"name": SECRETS[2], "phone": SECRETS[3]}],
    )
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.case_urge(actor=cast.leader, number=case.number, note=f"{SECRETS[2]}家今天办结")
    return case


def test_the_webhook_is_retried_with_backoff_until_the_gateway_recovers_and_sent_once(
    cast, channels, port
):
    preferences_set(user=cast.worker, phone="", wanted=[("urge", "robot")])
    case = urged_case(cast)
    row = OutboxMessage.objects.get()
    start = timezone.now()

    # Nothing listens yet: connection refused.
    assert outbox.drain_outbox(now=start) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 1)
    assert "unreachable" in row.error
    assert row.next_attempt == start + timedelta(seconds=30)
    assert outbox.drain_outbox(now=start + timedelta(seconds=29)) == 0  # it waits

    with gateway(port, statuses=[500]) as server:
        assert outbox.drain_outbox(now=start + timedelta(seconds=30)) == 1
        row.refresh_from_db()
        assert (row.status, row.attempts, row.error) == ("pending", 2, "HTTP 500 from the gateway")
        # The wait doubles.
        assert row.next_attempt == start + timedelta(seconds=30 + 60)
        assert outbox.drain_outbox(now=start + timedelta(seconds=89)) == 0
        assert outbox.drain_outbox(now=start + timedelta(seconds=90)) == 1
        # A later drain, or a restarted timer process, sends nothing again.
        assert outbox.drain_outbox(now=start + timedelta(days=1)) == 0

    row.refresh_from_db()
    assert (row.status, row.attempts, row.error) == ("sent", 3, "")
    assert len(server.received) == 2  # the 500 and the one that was accepted
    accepted = server.received[-1]
    assert accepted["key"] == str(row.pk)
    content = accepted["body"]["text"]["content"]
    assert accepted["body"]["msgtype"] == "text"
    assert case.number in content and f"/cases/{case.number}/" in content
    assert not [s for s in SECRETS if s in content]


def test_a_claim_whose_drainer_died_is_sent_after_its_lease_and_only_then(cast, channels, port):
    preferences_set(user=cast.worker, phone="", wanted=[("urge", "robot")])
    urged_case(cast)
    start = timezone.now()
    # A timer process claims the row and dies before sending it.
    assert len(outbox._claim(start, 10)) == 1
    with gateway(port) as server:
        # Restarted: the row is held by the dead claim until its lease ends.
        assert outbox.drain_outbox(now=start + timedelta(seconds=1)) == 0
        assert outbox.drain_outbox(now=start + outbox.lease(10) - timedelta(seconds=1)) == 0
        assert outbox.drain_outbox(now=start + outbox.lease(10)) == 1
        assert outbox.drain_outbox(now=start + outbox.lease(10) * 2) == 0
    assert len(server.received) == 1
    assert OutboxMessage.objects.get().status == "sent"


def test_it_gives_up_after_the_last_attempt_and_keeps_the_error(cast, channels, port):
    preferences_set(user=cast.worker, phone="", wanted=[("urge", "robot")])
    urged_case(cast)
    now = timezone.now()
    with gateway(port, statuses=[503] * 10) as server:
        for _ in range(6):
            outbox.drain_outbox(now=now)
            now += timedelta(hours=12)
    row = OutboxMessage.objects.get()
    assert (row.status, row.attempts, row.error) == ("failed", 4, "HTTP 503 from the gateway")
    assert len(server.received) == 4


def test_only_the_kinds_and_channels_a_person_chose_leave(cast, channels, port):
    cast.worker2.email = "worker2@example.org"
    cast.worker2.save()
    preferences_set(user=cast.worker, phone="13800138000", wanted=[("urge", "sms")])
    preferences_set(user=cast.worker2, phone="", wanted=[("task", "email")])
    case = urged_case(cast)  # both workers get a new task and an urge
    assert sorted(OutboxMessage.objects.values_list("notification__user__username", "channel")) == [
        ("worker", "sms"),
        ("worker2", "email"),
    ]
    with gateway(port) as server:
        assert outbox.drain_outbox() == 2
    (sms,) = server.received
    assert sms["body"]["to"] == "13800138000"
    assert sms["body"]["id"] == sms["key"]
    assert case.number in sms["body"]["text"]
    assert not [s for s in SECRETS if s in sms["body"]["text"]]
    (email,) = mail.outbox
    assert email.to == ["worker2@example.org"] and case.number in email.body
    assert not [s for s in SECRETS if s in email.body + email.subject]


def test_the_default_file_backend_appends_json_lines(cast, settings, tmp_path):
    settings.NOTIFY_FILE = tmp_path / "notifications.jsonl"
    settings.NOTIFY_CHANNELS = {
        "robot": {"BACKEND": "cases.outbound.FileBackend", "ADDRESS": "group"}
    }
    preferences_set(user=cast.worker, phone="", wanted=[("urge", "robot")])
    case = urged_case(cast)
    outbox.drain_outbox()
    (line,) = settings.NOTIFY_FILE.read_text().splitlines()
    assert json.loads(line)["link"].endswith(f"/cases/{case.number}/")


def test_a_digest_leaves_as_one_message_with_a_link_to_its_list(cast, channels, port, settings):
    settings.NOTIFY_DIGEST_OVER = 2
    preferences_set(user=cast.worker, phone="", wanted=[("late", "robot")])
    cases = [report(cast.worker) for _ in range(3)]
    for case in cases:
        services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    services.deadline_sweep(now=timezone.now() + timedelta(days=60))
    digest = Notification.objects.get(user=cast.worker, kind="late")
    with gateway(port) as server:
        assert outbox.drain_outbox() == 1
    content = server.received[0]["body"]["text"]["content"]
    assert f"/cases/notifications/{digest.pk}/" in content and "3" in content


def test_the_settings_page_saves_choices_and_refuses_bad_input(client, cast, channels):
    client.force_login(cast.worker)
    page = client.get("/cases/notifications/settings/").content.decode()
    assert 'value="urge:sms"' in page
    # SMS without a number, and a number that is not one: refused, nothing written.
    for phone in ("", "138-abc"):
        answer = client.post(
            "/cases/notifications/settings/", {"phone": phone, "wanted": ["urge:sms"]}
        )
        assert answer.status_code == 400
        assert not NotificationPreference.objects.exists()
    # E-mail without an address on the account: refused.
    answer = client.post("/cases/notifications/settings/", {"wanted": ["urge:email"]})
    assert answer.status_code == 400
    answer = client.post(
        "/cases/notifications/settings/",
        {"phone": "13800138000", "wanted": ["urge:sms", "late:robot"]},
    )
    assert answer.status_code == 302
    assert set(NotificationPreference.objects.values_list("user__username", "kind", "channel")) == {
        ("worker", "urge", "sms"),
        ("worker", "late", "robot"),
    }
    page = client.get("/cases/notifications/settings/").content.decode()
    assert 'value="urge:sms" aria-label' in page and "13800138000" in page
    assert page.count("checked") == 2
    # Unticking everything is a choice too.
    assert client.post("/cases/notifications/settings/", {}).status_code == 302
    assert not NotificationPreference.objects.exists()


def test_two_timer_processes_draining_at_once_send_each_message_once(reference_data, settings):
    from django.db import connection

    from tests.base import build_cast, build_territory

    port = free_port()
    settings.NOTIFY_CHANNELS = {"robot": webhook(f"http://127.0.0.1:{port}/send", "robot", "group")}
    settings.NOTIFY_DIGEST_OVER = 100
    cast = build_cast(build_territory())
    preferences_set(user=cast.dispatcher, phone="", wanted=[("task", "robot")])
    for _ in range(8):
        report(cast.worker)  # each a new task for the dispatcher
    assert OutboxMessage.objects.count() == 8
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def timer_process() -> None:
        try:
            barrier.wait()
            outbox.drain_outbox(batch=3)
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    with gateway(port) as server:
        threads = [threading.Thread(target=timer_process) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    keys = [r["key"] for r in server.received]
    assert sorted(keys) == sorted(
        str(pk) for pk in OutboxMessage.objects.values_list("pk", flat=True)
    )
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_the_timer_process_sends_the_outbox(cast, settings, tmp_path):
    import io

    from django.core.management import call_command

    settings.NOTIFY_FILE = tmp_path / "notifications.jsonl"
    settings.NOTIFY_CHANNELS = {
        "robot": {"BACKEND": "cases.outbound.FileBackend", "ADDRESS": "group"}
    }
    preferences_set(user=cast.worker, phone="", wanted=[("urge", "robot")])
    urged_case(cast)
    call_command("run_timers", "--once", stdout=io.StringIO())
    assert OutboxMessage.objects.get().status == "sent"
    assert len(settings.NOTIFY_FILE.read_text().splitlines()) == 1


def test_a_group_robot_gets_one_post_for_one_case_however_many_chose_it(cast, channels):
    for person in (cast.worker, cast.worker2):
        preferences_set(user=person, phone="", wanted=[("urge", "robot")])
    urged_case(cast)
    assert Notification.objects.filter(kind="urge").count() == 2
    assert OutboxMessage.objects.filter(channel="robot").count() == 1
