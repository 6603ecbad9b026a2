"""Bad input gets a clear 4xx with a reason and writes nothing — never a 500.

The whole class, not only the inputs once seen failing: numbers that are not
finite or out of range, impossible dates, integers past the database's,
NUL characters, malformed bodies.
"""

from __future__ import annotations

import itertools

import pytest
from rest_framework.authtoken.models import Token

from cases.models import Case, TimelineEntry

BAD_VALUES = [
    "nan", "inf", "-inf", "1e400", "abc", "", "%ff", "2026-13-01", "2026-13-01T00:00:00Z",
    "2026-02-30T25:61:00+08:00", "99999999999999999999", "-1", "0", "\x00",
]  # fmt: skip
QUERIES = [
    "/map/cells.json?bbox={v},{v},{v},{v}",
    "/map/snapshot.json?bbox={v},30.5,114.4,30.6",
    "/map/snapshot.json?since={v}&until={v}&community={v}&state={v}&category={v}",
    "/map/stats.json?since={v}",
    "/map/cases/{v}.json",
    "/map/cells/9999999999999999999999.json",
    "/api/v1/territory/cells/?bbox={v},{v},{v},{v}",
    "/api/v1/territory/communities/?bbox={v},30.5,114.4,30.6",
    "/api/v1/territory/locate/?lon={v}&lat={v}",
    "/api/v1/cases/?state={v}&since={v}&until={v}&category={v}",
    "/api/v1/cases/?cursor={v}&limit={v}&mine={v}&overdue={v}&community={v}&cell={v}",
    "/api/v1/cases/{v}/",
    "/api/v1/tasks/?page={v}",
    "/api/v1/metrics/?start={v}&end=2026-01-01T00:00:00Z&group={v}",
    "/api/v1/metrics/?start=2026-01-01T00:00:00Z&end={v}",
    "/api/v1/exports/{v}/",
    "/open311/v2/requests.json?api_key={key}&start_date={v}&end_date={v}",
    "/open311/v2/requests.xml?api_key={key}&status={v}&service_code={v}",
    "/open311/v2/requests/{v}.json?api_key={key}",
    "/cases/tasks/?page={v}",
    "/cases/triage/?page={v}",
    "/cases/{v}/",
]


@pytest.fixture
def key(cast):
    return Token.objects.create(user=cast.leader).key


def test_no_query_of_bad_values_answers_a_server_error(client, cast, key):
    client.force_login(cast.leader)
    failures = []
    for query, value in itertools.product(QUERIES, BAD_VALUES):
        url = query.format(v=value, key=key)
        headers = {"HTTP_AUTHORIZATION": f"Token {key}"} if url.startswith("/api/") else {}
        status = client.get(url, **headers).status_code
        if status >= 500:
            failures.append((url, status))
    assert failures == []


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/territory/cells/?bbox=nan,nan,nan,nan",
        "/api/v1/territory/streets/?bbox=114,inf,115,31",
        "/map/cells.json?bbox=nan,nan,nan,nan",
        "/map/snapshot.json?bbox=nan,nan,nan,nan",
        "/map/snapshot.json?bbox=115,30,114,31",
    ],
)
def test_an_impossible_bbox_is_refused_with_its_reason(client, cast, key, url):
    client.force_login(cast.leader)
    response = client.get(url, HTTP_AUTHORIZATION=f"Token {key}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "bbox" in response.content.decode()


def test_an_open311_report_at_an_infinite_latitude_is_refused_and_writes_nothing(client, key):
    for lat in ("inf", "nan", "91", "1e400"):
        response = client.post(
            "/open311/v2/requests.json",
            {"api_key": key, "service_code": "0401", "lat": lat, "long": "114.302"},
        )
        assert response.status_code == 400
        assert "lat" in response.json()[0]["description"]
    assert Case.objects.count() == 0


def test_an_open311_read_of_an_impossible_date_is_refused(client, key):
    response = client.get(
        "/open311/v2/requests.json", {"api_key": key, "start_date": "2026-13-01T00:00:00Z"}
    )
    assert response.status_code == 400
    assert "start_date" in response.json()[0]["description"]


def test_a_nul_character_anywhere_is_refused_at_the_door(client, cast, key):
    client.force_login(cast.leader)
    assert client.get("/map/cases/A\x00B.json").status_code == 400
    response = client.post(
        "/open311/v2/requests.json",
        {"api_key": key, "service_code": "0401", "lat": "30.558", "long": "114.302",
         "description": "堆物\x00"},
    )  # fmt: skip
    assert response.status_code == 400
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"\xff\xfe{not json", "application/json"),
        (b'{"category": "0401", "lon": 114.302, "lat": 30.558, "description": "\\u0000"}',
         "application/json"),
        (b"--xyz\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\n0401",
         "multipart/form-data; boundary=xyz"),
        (b"--xyz\r\n", "multipart/form-data"),
        (b'{"category": "0401", "lon": "nan", "lat": "inf", "description": "x"}',
         "application/json"),
    ],
)  # fmt: skip
def test_a_malformed_report_body_is_refused_and_writes_nothing(
    client, cast, key, body, content_type
):
    response = client.post(
        "/api/v1/cases/", body, content_type=content_type, HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert 400 <= response.status_code < 500
    assert Case.objects.count() == 0 and TimelineEntry.objects.count() == 0


def test_an_oversize_body_is_refused(client, cast, key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = b'{"category": "0401", "description": "' + b"x" * 20_000 + b'"}'
    response = client.post(
        "/api/v1/cases/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert response.status_code in (400, 413)
    assert Case.objects.count() == 0
