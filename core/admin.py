"""Pieces the apps' admins share."""

from __future__ import annotations


class ReadOnlyAdmin:
    """An admin page that is read, never edited: records written only by services
    (cases, their timelines) and audit trails (who saw a phone, who ended a post)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
