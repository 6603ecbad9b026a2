"""Vacuum the case table after 2 % of its rows changed, not PostgreSQL's 20 %.

Open cases are updated all day (steps, deadline colours); with the default
scale factor a city's 1.1-million-row table collects ~230,000 dead row
versions before autovacuum starts, and every index scan of the map, the
metrics and the inboxes reads through them (docs/benchmarks.md: the metrics
query 150 → 539 ms). SQLite has no such setting.
"""

from django.db import migrations

TABLE = "cases_case"
OPTIONS = ("autovacuum_vacuum_scale_factor", "autovacuum_analyze_scale_factor")


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        settings = ", ".join(f"{name} = 0.02" for name in OPTIONS)
        schema_editor.execute(f"ALTER TABLE {TABLE} SET ({settings})")


def untune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET ({', '.join(OPTIONS)})")


class Migration(migrations.Migration):
    dependencies = [("cases", "0003_export")]

    operations = [migrations.RunPython(tune, untune)]
