"""What the loop does when the territory changes.

Staffing: once per transaction, however many posts or assignments it saves
(an import of thousands), every claim whose holder may no longer act is
given back. Boundaries: an import that redraws them re-locates the open
cases whose point now lies in another unit (services.relocation).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

from core.sharedstate import on_commit_once
from grid.models import CellAssignment, Post
from grid.signals import boundaries_changed

# A report may name what it was logged from, by client id ({"patrol": "<id>"}),
# kept by an app above this one (patrols). `report_checking` is sent before the
# case is written (a receiver refuses with ValidationError: nothing is written),
# `report_logged` after, new or retried, to link it. Sent by cases.api.
report_checking = Signal()  # kwargs: actor, links
report_logged = Signal()  # kwargs: case, links


def release_after_commit() -> None:
    def release() -> None:
        from cases.services.ownership import release_stale_claims

        release_stale_claims()

    on_commit_once("release-stale-claims", release)


def _staffing_saved(sender, instance, **kwargs) -> None:
    release_after_commit()


def _user_saved(sender, instance, created: bool, **kwargs) -> None:
    if not created and not instance.is_active:
        release_after_commit()


def _boundaries_changed(sender, area, gone_cell_ids, **kwargs) -> list:
    from cases.services.relocation import relocate_open_cases

    return relocate_open_cases(area=area, gone_cell_ids=gone_cell_ids)


def connect() -> None:
    boundaries_changed.connect(_boundaries_changed, dispatch_uid="relocate-open-cases")
    post_save.connect(_staffing_saved, sender=Post, dispatch_uid="release-claims-post")
    post_save.connect(_staffing_saved, sender=CellAssignment, dispatch_uid="release-claims-cell")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="release-claims-user")
    for model in (Post, CellAssignment):
        post_delete.connect(
            _staffing_saved, sender=model, dispatch_uid=f"release-claims-{model.__name__}-gone"
        )
