"""Sending the outbox: each notification a person wants outside the app, once.

The timer process calls drain_outbox() every tick. A row is claimed in one
short transaction (SELECT … FOR UPDATE SKIP LOCKED, then its next attempt
moved a lease ahead), sent with no transaction open, then marked sent, or
retried later with a doubled wait, or given up after NOTIFY_MAX_ATTEMPTS with
the gateway's error. Two drainers never claim one row; a drainer that dies
after claiming leaves the row to be tried again when its lease ends, so
nothing is lost on a restart. The one duplicate left possible — a crash
after the gateway accepted and before the row was marked — carries the same
idempotency key (the row's id), by which a gateway can drop it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cases import outbound
from cases.models import Contact, NotificationKind, OutboxMessage

logger = logging.getLogger(__name__)

# A claim's lease: at least this, and always longer than a batch of sends can
# take (each at most its channel's timeout), or a second drainer could take a
# row still in flight.
LEASE = timedelta(minutes=10)
BATCH = 20
MAX_WAIT = timedelta(hours=6)


def drain_outbox(now: datetime | None = None, batch: int = BATCH) -> int:
    """Send every due outbox row (batch by batch); returns how many were tried."""
    tried = 0
    while True:
        claimed = _claim(now or timezone.now(), batch)
        for row in claimed:
            _send(row, now or timezone.now())
        tried += len(claimed)
        if len(claimed) < batch:
            return tried


def lease(batch: int) -> timedelta:
    timeouts = [c.get("TIMEOUT", 10) for c in settings.NOTIFY_CHANNELS.values()]
    return max(LEASE, timedelta(seconds=2 * batch * max(timeouts, default=10)))


def _claim(now: datetime, batch: int) -> list[OutboxMessage]:
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxMessage.Status.PENDING, next_attempt__lte=now)
            .order_by("next_attempt")
            .values_list("pk", flat=True)[:batch]
        )
        OutboxMessage.objects.filter(pk__in=ids).update(
            next_attempt=now + lease(batch), attempts=F("attempts") + 1
        )
    return list(
        OutboxMessage.objects.filter(pk__in=ids)
        .select_related("notification__user", "notification__case__category")
        .order_by("pk")
    )


def _send(row: OutboxMessage, now: datetime) -> None:
    try:
        if row.channel not in settings.NOTIFY_CHANNELS:
            raise outbound.DeliveryError(f"channel {row.channel} is not configured")
        outbound.backend(row.channel).send(message(row))
    except outbound.DeliveryError as exc:
        _failed(row, now, str(exc))
    except Exception as exc:  # a backend's own bug: counted, so it ends in a give-up too
        logger.exception("Outbox message %s could not be sent", row.pk)
        _failed(row, now, f"{type(exc).__name__}: {exc}")
    else:
        OutboxMessage.objects.filter(pk=row.pk).update(
            status=OutboxMessage.Status.SENT, sent_at=now, error=""
        )


def _failed(row: OutboxMessage, now: datetime, error: str) -> None:
    rows = OutboxMessage.objects.filter(pk=row.pk)
    if row.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        rows.update(status=OutboxMessage.Status.FAILED, next_attempt=None, error=error[:300])
        return
    wait = timedelta(seconds=settings.NOTIFY_RETRY_SECONDS * 2 ** (row.attempts - 1))
    rows.update(next_attempt=now + min(wait, MAX_WAIT), error=error[:300])


def address(row: OutboxMessage) -> str:
    """Where this person's copy goes now (their current e-mail or mobile)."""
    user = row.notification.user
    kind = settings.NOTIFY_CHANNELS[row.channel]["ADDRESS"]
    if kind == "group":
        return ""
    contact = Contact.objects.filter(user=user).first()
    found = user.email if kind == "email" else getattr(contact, "phone", "")
    if not found:
        raise outbound.DeliveryError(f"{user.get_username()} has no {kind} to send to")
    return found


def message(row: OutboxMessage) -> outbound.Message:
    """The outbound text: kind, case number, category and link; never names or phones.

    A notice's own text may quote an urge's note or a resident's words, so it
    is not sent: only a digest's text (counts) is.
    """
    notification = row.notification
    case = notification.case
    with translation.override(settings.LANGUAGE_CODE):
        label = str(NotificationKind(notification.kind).label)
        if case is None:
            text = f"{label}: {notification.text}"
            path = reverse("cases:notification", args=[notification.pk])
        else:
            text = f"{label}: {case.number} {case.category.name}"
            path = reverse("cases:detail", args=[case.number])
        subject = _("[GridCase] %(what)s") % {"what": label}
    return outbound.Message(
        key=str(row.pk),
        channel=row.channel,
        address=address(row),
        kind=notification.kind,
        subject=subject,
        text=text,
        link=settings.SITE_URL + path,
    )
