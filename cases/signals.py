"""What the loop does when staffing changes: an ended post gives back its claimed steps."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_save

from grid.models import CellAssignment, Post


def _release_later(user_id: int) -> None:
    def release() -> None:
        from cases.services.ownership import release_claims

        user = get_user_model().objects.filter(pk=user_id).first()
        if user is not None:
            release_claims(user)

    transaction.on_commit(release)


def _tenure_saved(sender, instance, **kwargs) -> None:
    if instance.ended is not None:
        _release_later(instance.worker_id if sender is CellAssignment else instance.user_id)


def _user_saved(sender, instance, **kwargs) -> None:
    if not instance.is_active:
        _release_later(instance.pk)


def connect() -> None:
    post_save.connect(_tenure_saved, sender=Post, dispatch_uid="release-claims-post")
    post_save.connect(_tenure_saved, sender=CellAssignment, dispatch_uid="release-claims-cell")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="release-claims-user")
