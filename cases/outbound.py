"""Outbound delivery backends: how one message leaves GridCase on one channel.

Chosen per channel in settings.NOTIFY_CHANNELS, as Django chooses its e-mail
backend. A backend's `send()` returns when the message was accepted and
raises DeliveryError otherwise; the outbox (cases.services.outbox) retries.

A message carries only the case number, the kind, a short title (the
category) and a link: never a resident's phone or the parties' names (PIPL).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


class DeliveryError(Exception):
    """The gateway did not accept the message (it is tried again later)."""


@dataclass(frozen=True)
class Message:
    key: str  # the outbox row's id: a gateway drops a second message with the same key
    channel: str
    address: str  # an e-mail, a mobile number, or "" for a group robot
    kind: str
    subject: str
    text: str
    link: str

    def content(self) -> str:
        return f"{self.text}\n{self.link}"


class Backend:
    def __init__(self, channel: str, options: dict[str, Any]) -> None:
        self.channel = channel
        self.options = options

    def send(self, message: Message) -> None:
        raise NotImplementedError


class ConsoleBackend(Backend):
    """The default: each message in the log, for development and trials."""

    def send(self, message: Message) -> None:
        logger.info("Notification [%s] to %s: %s", message.channel, message.address, message.text)


class FileBackend(Backend):
    """Appends each message as one JSON line to settings.NOTIFY_FILE (under var/)."""

    def send(self, message: Message) -> None:
        path = settings.NOTIFY_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps(asdict(message), ensure_ascii=False) + "\n")


class WebhookBackend(Backend):
    """A JSON POST to a group robot (enterprise WeChat, DingTalk) or an SMS gateway.

    BODY "robot": {"msgtype": "text", "text": {"content": …}}; BODY "sms":
    {"id", "to", "text"}. The outbox row's id goes in the Idempotency-Key
    header (and the SMS body). Any 2xx answer is sent; anything else fails.
    """

    def body(self, message: Message) -> dict[str, Any]:
        if self.options["BODY"] == "sms":
            return {"id": message.key, "to": message.address, "text": message.content()}
        return {"msgtype": "text", "text": {"content": message.content()}}

    def send(self, message: Message) -> None:
        request = urllib.request.Request(
            self.options["URL"],
            data=json.dumps(self.body(message), ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json", IDEMPOTENCY_HEADER: message.key},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.options["TIMEOUT"]) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"HTTP {exc.code} from the gateway") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"gateway unreachable: {exc}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status} from the gateway")


class EmailBackend(Backend):
    """Through Django's own mail (EMAIL_BACKEND, EMAIL_HOST …)."""

    def send(self, message: Message) -> None:
        mail = EmailMessage(
            subject=message.subject,
            body=message.content(),
            to=[message.address],
            headers={"X-GridCase-Notification": message.key},
        )
        try:
            mail.send()
        except OSError as exc:  # smtplib's errors are OSErrors
            raise DeliveryError(f"mail not accepted: {exc}") from None


def backend(channel: str) -> Backend:
    options = settings.NOTIFY_CHANNELS[channel]
    return import_string(options["BACKEND"])(channel, options)
