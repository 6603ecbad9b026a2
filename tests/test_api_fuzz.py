"""The API fuzzed from its own OpenAPI schema (schemathesis): no answer is a 5xx,
and every answer — status, content type, body — is one the schema documents.

A bounded, deterministic run: each operation gets EXAMPLES generated requests
from the same seed every time, so the suite's time stays fixed and a failure
reproduces. The requests are made by a street leader through the in-process
WSGI app on the test database, with a case in the territory to act on.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import checks as st_checks

from tests.base import build_cast, build_territory, report

EXAMPLES = 12
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]


def _schema():
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = get_wsgi_application()
    return loaded


schema = _schema()


@pytest.fixture
def in_process_wsgi():
    """As Django's test client does: a request through the WSGI app must not close
    the test's database connection (its rows live in the test's transaction)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def leader_token(db, in_process_wsgi):
    cast = build_cast(build_territory())
    report(cast.worker)
    return Token.objects.create(user=cast.leader).key


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_request_as_its_schema_says(case, leader_token):
    case.call_and_validate(headers={"Authorization": f"Token {leader_token}"}, checks=CHECKS)
