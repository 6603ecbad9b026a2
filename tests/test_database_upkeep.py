"""How PostgreSQL keeps the busiest table fit (cases/migrations/0004)."""

import pytest
from django.db import connection


@pytest.mark.postgis
@pytest.mark.django_db
def test_the_case_table_is_vacuumed_after_two_percent_of_its_rows_changed():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'cases_case'")
        (options,) = cursor.fetchone()
    assert options, "cases_case has no storage options"
    assert "autovacuum_vacuum_scale_factor=0.02" in options
    assert "autovacuum_analyze_scale_factor=0.02" in options
