"""What invalidates the per-process copies of who may see what, and tells live sockets.

Territories, token owners and located cells are cached per process under the
"access" generation (core.sharedstate). Any saved or deleted row they are
built from starts a new generation. Open WebSockets keep a territory of their
own: after such a change commits they are told to read it again (the
ACCESS_GROUP), and a logout closes the sockets of that session (user_group).
"""

from __future__ import annotations

import logging
from importlib import import_module
from types import SimpleNamespace

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from rest_framework.authtoken.models import Token

from core.sharedstate import ACCESS, invalidate, on_new_generation
from grid.models import CellAssignment, Community, Department, District, GridCell, Post, Street

logger = logging.getLogger(__name__)

SOURCES = (Post, CellAssignment, GridCell, Community, Street, District, Department, Token)
# Every live socket listens here for "access changed: read your territory again".
ACCESS_GROUP = "access"


def user_group(user_id: int) -> str:
    """A person's own sockets (a logout closes those of its session)."""
    return f"user-{user_id}"


def _changed(sender, update_fields=None, **kwargs) -> None:
    # A login stamps last_login; that changes nobody's access.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    invalidate(ACCESS)


def send(group: str, message: dict) -> None:
    """Best effort: a socket that misses this re-reads its access on its own later."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.warning("Could not tell the live sockets (%s)", message["type"], exc_info=True)


def _tell_sockets_access_changed() -> None:
    send(ACCESS_GROUP, {"type": "access.changed"})


def _logged_out(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is None or not session_key:
        return
    message = {"type": "access.session_ended", "session": session_key}
    transaction.on_commit(lambda: send(user_group(user.pk), message))


def session_user(session_key: str | None):
    """The active user a session belongs to now, or None (logged out, expired,
    password changed, deactivated): Django's own check, on a fresh read."""
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(SimpleNamespace(session=store))
    return user if user.is_authenticated and user.is_active else None


def connect() -> None:
    for model in (*SOURCES, get_user_model()):
        post_save.connect(_changed, sender=model, dispatch_uid=f"access-{model._meta.label}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"access-{model._meta.label}-d")
    user_logged_out.connect(_logged_out, dispatch_uid="access-logout")
    on_new_generation(ACCESS, _tell_sockets_access_changed)
