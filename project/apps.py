from django.contrib.staticfiles.apps import StaticFilesConfig


class StaticFiles(StaticFilesConfig):
    """collectstatic without viewflow's stray npm copies of its fonts, whose CSS
    names files that are not there (the manifest storage would refuse them)."""

    ignore_patterns = [*StaticFilesConfig.ignore_patterns, "node_modules"]
