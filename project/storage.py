"""Static files storage for DEBUG off."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed and compressed, and lenient: a file that exists but is missing from
    the manifest (a stale collectstatic) is served under its plain name instead
    of failing the page — an error page that fails this way becomes a second
    error and hides the first."""

    manifest_strict = False
