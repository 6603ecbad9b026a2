"""Notifications: written with the change that causes them, told live after commit.

Each person's open pages listen on their own socket (`/ws/me/`, grid.access's
user group): a new notification moves the bell's count without a reload.
More than settings.NOTIFY_DIGEST_OVER notices of one kind for one person from
one call become one digest (no single case; the numbers in its data). Each
saved notification a person wants outside the app (NotificationPreference)
gets an outbox row per channel in the same transaction (cases.services.outbox
sends them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.models import (
    Case,
    Contact,
    Notification,
    NotificationKind,
    NotificationPreference,
    OutboxMessage,
)
from cases.services.errors import NotFound, ServiceError
from cases.services.selectors import visible_cases
from grid import access

if TYPE_CHECKING:
    from cases.services.permissions import AnyUser

MAX_TEXT = 300


def notify(user_ids: Iterable[int], case: Case, kind: str, text: str) -> list[Notification]:
    """Tell each person once; their sockets hear of it when the transaction commits."""
    return deliver(
        [Notification(user_id=u, case=case, kind=kind, text=text) for u in sorted(set(user_ids))]
    )


def deliver(rows: list[Notification]) -> list[Notification]:
    """Save notifications in one insert (a sweep's batch is hundreds), digests
    instead of floods, queue the copies people want outside the app and, after
    commit, tell each person's sockets once."""
    for row in rows:
        row.text = row.text[:MAX_TEXT]
    saved = Notification.objects.bulk_create(_digested(rows))
    enqueue(saved)
    people = sorted({row.user_id for row in saved})
    if people:
        transaction.on_commit(lambda: tell(people))
    return saved


def digest_text(kind: str, count: int) -> str:
    """What a digest says: how many, of what (never more than counts and a kind)."""
    texts = {
        NotificationKind.TASK: _("%(count)d new tasks are in your inbox."),
        NotificationKind.DUE_SOON: _("%(count)d of your cases are due soon."),
        NotificationKind.LATE: _("%(count)d of your cases turned red."),
        NotificationKind.OVERDUE: _("%(count)d cases in your street are overdue (督办)."),
        NotificationKind.UNOWNED: _("%(count)d cases have no owner."),
    }
    if kind in texts:
        return texts[kind] % {"count": count}
    label = NotificationKind(kind).label
    return _("%(count)d notifications: %(kind)s") % {"count": count, "kind": label}


def _digested(rows: list[Notification]) -> list[Notification]:
    """One digest for each person and kind with more than NOTIFY_DIGEST_OVER notices."""
    groups: dict[tuple[int, str], list[Notification]] = {}
    for row in rows:
        groups.setdefault((row.user_id, row.kind), []).append(row)
    result = []
    for (user_id, kind), group in groups.items():
        if len(group) <= settings.NOTIFY_DIGEST_OVER:
            result += group
            continue
        numbers = [row.case.number for row in group if row.case is not None]
        result.append(
            Notification(
                user_id=user_id,
                case=None,
                kind=kind,
                text=digest_text(kind, len(group))[:MAX_TEXT],
                data={"cases": numbers},
            )
        )
    return result


def enqueue(saved: list[Notification]) -> list[OutboxMessage]:
    """An outbox row per saved notification and channel its person chose for its kind."""
    if not saved:
        return []
    wanted = NotificationPreference.objects.filter(
        user_id__in={n.user_id for n in saved}, channel__in=list(settings.NOTIFY_CHANNELS)
    ).values_list("user_id", "kind", "channel")
    channels: dict[tuple[int, str], list[str]] = {}
    for user_id, kind, channel in wanted:
        channels.setdefault((user_id, kind), []).append(channel)
    now = timezone.now()
    rows, posted = [], set()
    for n in saved:
        for channel in channels.get((n.user_id, n.kind), ()):
            if settings.NOTIFY_CHANNELS[channel]["ADDRESS"] == "group":
                # One group robot, one post: five owners told of one case are one message.
                key = (channel, n.kind, n.case_id, tuple(n.data.get("cases", ())))
                if key in posted:
                    continue
                posted.add(key)
            rows.append(OutboxMessage(notification=n, channel=channel, next_attempt=now))
    return OutboxMessage.objects.bulk_create(rows)


def tell(user_ids: list[int]) -> None:
    """Each person's open pages: count again."""
    for user_id in user_ids:
        access.send(access.user_group(user_id), {"type": "notification.new"})


def mine(user: AnyUser) -> QuerySet[Notification]:
    return Notification.objects.filter(user_id=user.pk).select_related("case")


def unread_count(user: AnyUser) -> int:
    return unread(user.pk) if user.is_authenticated else 0


def unread(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read=False).count()


def mark_read(user: AnyUser, ids: Iterable[int] | None = None) -> int:
    """Mark the person's own notifications read (all of them without `ids`)."""
    rows = Notification.objects.filter(user_id=user.pk, read=False)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    count = rows.update(read=True)
    if count:
        transaction.on_commit(lambda: tell([user.pk]))
    return count


CHANNEL_LABELS = {
    "email": gettext_lazy("E-mail"),
    "sms": gettext_lazy("SMS"),
    "robot": gettext_lazy("Work group (WeChat / DingTalk robot)"),
}


def channels() -> list[tuple[str, str]]:
    """The outbound channels configured here, with their labels."""
    return [(name, str(CHANNEL_LABELS.get(name, name))) for name in settings.NOTIFY_CHANNELS]


def preferences(user: AnyUser) -> set[tuple[str, str]]:
    """(kind, channel) pairs the person wants outside the app."""
    rows = NotificationPreference.objects.filter(user_id=user.pk)
    return set(rows.values_list("kind", "channel"))


def preferences_set(*, user: AnyUser, phone: str, wanted: Iterable[tuple[str, str]]) -> None:
    """Replace the person's choices and their mobile number, or refuse with a reason."""
    wanted = set(wanted)
    configured = settings.NOTIFY_CHANNELS
    for kind, channel in wanted:
        if kind not in NotificationKind.values or channel not in configured:
            raise ServiceError(_("Unknown notification kind or channel."))
    needs = {configured[channel]["ADDRESS"] for _kind, channel in wanted}
    if "phone" in needs and not phone:
        raise ServiceError(_("Give a mobile number for SMS."))
    if "email" in needs and not user.email:
        raise ServiceError(_("Your account has no e-mail address; ask an administrator."))
    with transaction.atomic():
        Contact.objects.update_or_create(user_id=user.pk, defaults={"phone": phone})
        NotificationPreference.objects.filter(user_id=user.pk).delete()
        NotificationPreference.objects.bulk_create(
            [NotificationPreference(user_id=user.pk, kind=k, channel=c) for k, c in sorted(wanted)]
        )


def still_visible(user: AnyUser, notes: Iterable[Notification]) -> set[str]:
    """Which of these digests' case numbers the person may see now (one query)."""
    numbers = {number for n in notes for number in n.digest_of}
    if not numbers:
        return set()
    return set(visible_cases(user).filter(number__in=numbers).values_list("number", flat=True))


def digest_cases(user: AnyUser, notification_id: int) -> tuple[Notification, QuerySet[Case]]:
    """One of the person's notifications and the cases of it they may still see."""
    notification = Notification.objects.filter(user_id=user.pk, pk=notification_id).first()
    if notification is None:
        raise NotFound(_("No such notification."))
    numbers = notification.digest_of or [notification.case.number]
    cases = visible_cases(user).filter(number__in=numbers).select_related("category")
    return notification, cases.order_by("number")
