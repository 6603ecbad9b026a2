"""Per-token rate limits: past the rate, a 429 with Retry-After, and nothing written."""

from django.core.cache import cache
from rest_framework.throttling import UserRateThrottle

from cases.models import Case
from tests.test_api_cases import api, body


def test_a_token_past_its_rate_gets_429(cast, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
    cache.delete(f"throttle_user_{cast.worker.pk}")
    client = api(cast.worker)
    assert [client.get("/api/v1/categories/").status_code for _ in range(3)] == [200] * 3
    refused = client.post("/api/v1/cases/", body(), format="json")
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert Case.objects.count() == 0
    # Another token has its own allowance.
    cache.delete(f"throttle_user_{cast.dispatcher.pk}")
    assert api(cast.dispatcher).get("/api/v1/categories/").status_code == 200
    cache.delete(f"throttle_user_{cast.worker.pk}")
