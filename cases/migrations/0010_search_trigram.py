"""Indexes for the case search: a street's cases by date, and trigrams for text.

The (street, reported_at) index serves a street's newest-first page and its
date filter on both databases. The trigram indexes serve the substring match,
on PostgreSQL only: Chinese text has no spaces between words, so PostgreSQL's
full-text search finds nothing inside "楼道漏水"; a substring match does, and
pg_trgm's GIN indexes serve it (for three characters or more). The search
filters with Django's `icontains`, which PostgreSQL receives as
UPPER(column::text) LIKE UPPER('%…%'): the indexes are on exactly that
expression, built CONCURRENTLY so that reports keep arriving while a city's
table is indexed (docs/benchmarks.md). SpatiaLite has no pg_trgm: there the
search is a LIKE over the rows the other filters leave (the territory, at
least), and this part does nothing.
"""

from django.db import migrations, models

INDEXES = {
    "cases_case_number_trgm": "UPPER((number)::text)",
    "cases_case_description_trgm": "UPPER(description)",
    "cases_case_address_trgm": "UPPER((address)::text)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} "
            f"ON cases_case USING gin ({expression} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("cases", "0009_notify_outbound")]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(fields=["street", "reported_at"], name="cases_case_street_reported"),
        ),
        migrations.RunPython(create, drop),
    ]
