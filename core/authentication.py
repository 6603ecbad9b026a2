"""API token authentication that does not query the database on every request."""

from __future__ import annotations

import copy

from rest_framework.authentication import TokenAuthentication

from core.sharedstate import ACCESS, GenerationCache

# Token key → (user, token); dropped when a token, user or post changes (grid.access).
_owners: GenerationCache[str, tuple] = GenerationCache(ACCESS)


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token check, its answer kept per process for the access generation.

    A revoked token or a deactivated user starts a new generation, so the
    next request of every process checks the database again. Unknown keys
    are never cached: each one is looked up (and refused).
    """

    def authenticate_credentials(self, key: str):
        user, token = _owners.get(
            key, lambda: super(CachedTokenAuthentication, self).authenticate_credentials(key)
        )
        # Each request gets its own user object: Django caches permissions on it.
        return copy.copy(user), token
