"""Trigram indexes for the diary search, as for the case search (cases 0010).

The desk's search matches text inside an entry's text or place with Django's
`icontains` (UPPER(column::text) LIKE UPPER('%…%')): Chinese has no spaces for
full-text search to split on. On PostgreSQL pg_trgm's GIN indexes on exactly
that expression serve it; SpatiaLite has no pg_trgm, and there the match runs
over the territory's entries only, and this does nothing.
"""

from django.db import migrations

INDEXES = {
    "diary_entry_text_trgm": "UPPER(text)",
    "diary_entry_place_trgm": "UPPER((place)::text)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} "
            f"ON diary_diaryentry USING gin ({expression} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("diary", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
