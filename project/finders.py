"""Static files from npm packages (package.json, installed by `make` with npm ci).

Only the files named in settings.NPM_STATIC_FILES are served and collected:
node_modules holds ~50 MB of echarts builds, source maps and sources our pages
never load, and the manifest storage would hash and compress every one.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import utils
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Warning
from django.core.files.storage import FileSystemStorage


class NpmFinder(BaseFinder):
    """Serves each NPM_STATIC_FILES entry (served path -> path under NODE_MODULES)."""

    def __init__(self, *args, **kwargs) -> None:
        root = Path(settings.NODE_MODULES)
        self.files = {served: root / source for served, source in settings.NPM_STATIC_FILES.items()}
        super().__init__(*args, **kwargs)

    def check(self, **kwargs) -> list[CheckMessage]:
        missing = sorted(str(path) for path in self.files.values() if not path.is_file())
        if not missing:
            return []
        return [
            Warning(
                f"npm files are missing: {', '.join(missing)}",
                hint="Run `make static` (npm ci from package-lock.json).",
                id="gridcase.W001",
            )
        ]

    def find(self, path: str, find_all: bool = False, **kwargs) -> str | list[str] | None:
        source = self.files.get(path)
        found = [str(source)] if source is not None and source.is_file() else []
        if find_all:
            return found
        return found[0] if found else None

    def list(self, ignore_patterns) -> Iterator[tuple[str, FileSystemStorage]]:
        for served, source in self.files.items():
            if not source.is_file() or utils.matches_patterns(served, ignore_patterns or []):
                continue
            storage = FileSystemStorage(location=source.parent)
            # collectstatic and whitenoise put the file under its prefix.
            storage.prefix = posixpath.dirname(served)
            yield source.name, storage
