"""Per-token rate limits: past the rate, a 429 with Retry-After, and nothing written."""

from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from cases.models import Case
from tests.base import api, body


def test_a_token_past_its_rate_gets_429(cast, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
    client = api(cast.worker)
    assert [client.get("/api/v1/categories/").status_code for _ in range(3)] == [200] * 3
    refused = client.post("/api/v1/cases/", body(), format="json")
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert Case.objects.count() == 0
    # Another token has its own allowance.
    assert api(cast.dispatcher).get("/api/v1/categories/").status_code == 200


def test_the_window_slides_and_refusals_do_not_count(cast, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
    clock = [600_000.0]  # the start of a minute
    monkeypatch.setattr("core.throttling.time.time", lambda: clock[0])
    client = api(cast.worker)
    statuses = [client.get("/api/v1/categories/").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert client.get("/api/v1/categories/").headers["Retry-After"] == "60"
    # Half way through the next minute the last one's three count for half: 1.5 + 1 ≤ 3.
    # Had the refusals counted, 1.5 × 6 alone would refuse it.
    clock[0] += 90
    assert client.get("/api/v1/categories/").status_code == 200
    refused = client.get("/api/v1/categories/")
    # 1.5 + 2 > 3 until the previous minute weighs ≤ 1, 20 s into this one: 10 s from now.
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "10"
    clock[0] += 10
    assert client.get("/api/v1/categories/").status_code == 200


def test_open311_is_counted_with_the_api_per_token_and_per_address(client, cast, monkeypatch):
    from rest_framework.authtoken.models import Token

    rates = {"user": "3/min", "anon": "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    key = Token.objects.get_or_create(user=cast.worker)[0].key
    # The token's allowance is one: two API calls and one Open311 call use it up.
    client_api = api(cast.worker)
    assert client_api.get("/api/v1/categories/").status_code == 200
    assert client_api.get("/api/v1/categories/").status_code == 200
    assert client.get("/open311/v2/requests.json", {"api_key": key}).status_code == 200
    refused = client.get("/open311/v2/requests.json", {"api_key": key})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()[0]["code"] == 429
    # Without a key, the address is counted.
    assert [client.get("/open311/v2/services.json").status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


def test_open311_with_a_made_up_key_is_counted_by_address(client, db, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})
    codes = [
        client.get("/open311/v2/requests.json", {"api_key": f"guess{i}"}).status_code
        for i in range(3)
    ]
    assert codes == [400, 400, 429]
