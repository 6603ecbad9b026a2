"""Static files storage for DEBUG off."""

import logging

from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed and compressed, and lenient: a file missing from the manifest (a
    stale or skipped collectstatic) is linked under its plain name and logged,
    instead of failing the page — an error page that fails this way becomes a
    second error and hides the first."""

    manifest_strict = False

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            logger.warning("Static file %s is not collected; run collectstatic", name)
            return name
