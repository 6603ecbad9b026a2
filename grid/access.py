"""What invalidates the per-process copies of who may see what.

Territories, token owners and located cells are cached per process under the
"access" generation (project.sharedstate). Any saved or deleted row they are
built from starts a new generation.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from rest_framework.authtoken.models import Token

from grid.models import CellAssignment, Community, Department, District, GridCell, Post, Street
from project.sharedstate import ACCESS, invalidate

SOURCES = (Post, CellAssignment, GridCell, Community, Street, District, Department, Token)


def _changed(sender, update_fields=None, **kwargs) -> None:
    # A login stamps last_login; that changes nobody's access.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    invalidate(ACCESS)


def connect() -> None:
    for model in (*SOURCES, get_user_model()):
        post_save.connect(_changed, sender=model, dispatch_uid=f"access-{model._meta.label}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"access-{model._meta.label}-d")
