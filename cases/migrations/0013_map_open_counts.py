"""The live map's open-case counts per place and deadline colour, kept by triggers.

PostgreSQL: one statement-level trigger per INSERT / UPDATE / DELETE on
cases_case with transition tables, so a COPY of 100,000 cases or the deadline
sweeper's UPDATE of a batch moves the counts in one grouped upsert (rows in key
order: two such statements lock the counts in the same order). SQLite has no
transition tables: row-level triggers, fired only when a counted column changed.
The open states are written out: a migration must not follow later code.
"""

import django.db.models.deletion
from django.db import migrations, models

OPEN = (
    "('triage', 'onsite', 'mediation', 'street_dispatch', 'street_mediation', "
    "'department', 'verify', 'return_visit')"
)
PLACE = "street_id, community_id, cell_id, deadline_state"
KEY = "street_id, COALESCE(community_id, 0), COALESCE(cell_id, 0), deadline_state"

REBUILD = [
    "DELETE FROM cases_opencount",
    f"INSERT INTO cases_opencount ({PLACE}, open) SELECT {KEY}, COUNT(*) FROM cases_case "
    f"WHERE state IN {OPEN} GROUP BY {KEY}",
]

POSTGRES = [
    f"""
CREATE FUNCTION cases_opencount_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO cases_opencount ({PLACE}, open)
    SELECT {KEY}, COUNT(*) FROM new_rows WHERE state IN {OPEN}
    GROUP BY {KEY} ORDER BY {KEY}
    ON CONFLICT ({PLACE}) DO UPDATE SET open = cases_opencount.open + excluded.open;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO cases_opencount ({PLACE}, open)
    SELECT {KEY}, -COUNT(*) FROM old_rows WHERE state IN {OPEN}
    GROUP BY {KEY} ORDER BY {KEY}
    ON CONFLICT ({PLACE}) DO UPDATE SET open = cases_opencount.open + excluded.open;
  ELSE
    INSERT INTO cases_opencount ({PLACE}, open)
    SELECT s, m, c, d, SUM(n) FROM (
      SELECT {KEY}, -1 FROM old_rows WHERE state IN {OPEN}
      UNION ALL
      SELECT {KEY}, 1 FROM new_rows WHERE state IN {OPEN}
    ) AS moves (s, m, c, d, n)
    GROUP BY s, m, c, d HAVING SUM(n) <> 0 ORDER BY s, m, c, d
    ON CONFLICT ({PLACE}) DO UPDATE SET open = cases_opencount.open + excluded.open;
  END IF;
  RETURN NULL;
END $$
""",
    # The map's viewport queries read open cases by place: a partial index skips the
    # closed ones, which are nine in ten of the rows around any point.
    f"CREATE INDEX cases_case_open_location ON cases_case USING gist (location) "
    f"WHERE state IN {OPEN}",
    "CREATE TRIGGER cases_opencount_insert AFTER INSERT ON cases_case "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cases_opencount_apply()",
    "CREATE TRIGGER cases_opencount_update AFTER UPDATE ON cases_case "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION cases_opencount_apply()",
    "CREATE TRIGGER cases_opencount_delete AFTER DELETE ON cases_case "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cases_opencount_apply()",
]
POSTGRES_DROP = [
    "DROP TRIGGER cases_opencount_insert ON cases_case",
    "DROP TRIGGER cases_opencount_update ON cases_case",
    "DROP TRIGGER cases_opencount_delete ON cases_case",
    "DROP FUNCTION cases_opencount_apply()",
    "DROP INDEX cases_case_open_location",
]


def _sqlite_add(row: str) -> str:
    return (
        f"INSERT INTO cases_opencount ({PLACE}, open) "
        f"SELECT {row}.street_id, COALESCE({row}.community_id, 0), COALESCE({row}.cell_id, 0), "
        f"{row}.deadline_state, 1 WHERE {row}.state IN {OPEN} "
        f"ON CONFLICT ({PLACE}) DO UPDATE SET open = open + 1;"
    )


def _sqlite_remove(row: str) -> str:
    return (
        f"UPDATE cases_opencount SET open = open - 1 WHERE {row}.state IN {OPEN} "
        f"AND street_id = {row}.street_id AND community_id = COALESCE({row}.community_id, 0) "
        f"AND cell_id = COALESCE({row}.cell_id, 0) AND deadline_state = {row}.deadline_state;"
    )


CHANGED = " OR ".join(
    f"OLD.{c} IS NOT NEW.{c}"
    for c in ("state", "deadline_state", "street_id", "community_id", "cell_id")
)
SQLITE = [
    "CREATE TRIGGER cases_opencount_insert AFTER INSERT ON cases_case "
    f"BEGIN {_sqlite_add('NEW')} END",
    "CREATE TRIGGER cases_opencount_delete AFTER DELETE ON cases_case "
    f"BEGIN {_sqlite_remove('OLD')} END",
    f"CREATE TRIGGER cases_opencount_update AFTER UPDATE ON cases_case WHEN {CHANGED} "
    f"BEGIN {_sqlite_remove('OLD')} {_sqlite_add('NEW')} END",
]
SQLITE_DROP = [
    "DROP TRIGGER cases_opencount_insert",
    "DROP TRIGGER cases_opencount_update",
    "DROP TRIGGER cases_opencount_delete",
]


def create_triggers(apps, schema_editor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    for sql in [*(POSTGRES if postgres else SQLITE), *REBUILD]:
        schema_editor.execute(sql)


def drop_triggers(apps, schema_editor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    for sql in POSTGRES_DROP if postgres else SQLITE_DROP:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0012_metoo_supporters"),
        ("grid", "0003_territory"),
    ]

    operations = [
        migrations.CreateModel(
            name="OpenCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("community_id", models.IntegerField(default=0)),
                ("cell_id", models.IntegerField(db_index=True, default=0)),
                (
                    "deadline_state",
                    models.CharField(
                        choices=[
                            ("green", "On time"),
                            ("yellow", "Near deadline"),
                            ("red", "Overdue"),
                        ],
                        max_length=10,
                    ),
                ),
                ("open", models.IntegerField(default=0)),
                (
                    "street",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="grid.street",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("street", "community_id", "cell_id", "deadline_state"),
                        name="opencount_place",
                    )
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
