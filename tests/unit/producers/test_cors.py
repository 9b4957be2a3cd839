"""CORS: an origin is echoed only when a key allows it, on preflights, answers and errors alike."""

from __future__ import annotations

import pytest

from tests.helpers import event
from tests.unit.producers.fakes import collector_client

ALLOWED = "https://app.acme.com"  # the only origin of pk_1 (keys.sample.json); no key allows others
EVIL = "https://evil.example"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}


@pytest.mark.parametrize("path", ["/v1/events", "/v1/traces"])
def test_preflight_echoes_only_origins_a_key_allows(path: str) -> None:
    client, _ = collector_client()
    allowed = client.options(path, headers={"Origin": ALLOWED, **PREFLIGHT})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    refused = client.options(path, headers={"Origin": EVIL, **PREFLIGHT})
    assert "access-control-allow-origin" not in refused.headers
    assert refused.headers["vary"] == "Origin"


def test_answers_echo_only_origins_the_request_key_allows() -> None:
    client, _ = collector_client()
    ok = client.post("/v1/events", json=event("copy"), headers={"Authorization": "Bearer pk_1", "Origin": ALLOWED})
    assert ok.status_code == 202
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    assert ok.headers["access-control-expose-headers"] == "Retry-After"
    # an error for an allowed origin stays readable by its page
    bad = client.post("/v1/events", json={"events": [{}]}, headers={"Authorization": "Bearer pk_1", "Origin": ALLOWED})
    assert bad.status_code == 400
    assert bad.headers["access-control-allow-origin"] == ALLOWED

    for headers, status in [
        ({"Authorization": "Bearer pk_1", "Origin": EVIL}, 403),  # the key does not allow it
        ({"Authorization": "Bearer pk_unknown", "Origin": EVIL}, 401),  # no key at all
        ({"Origin": EVIL}, 401),
    ]:
        refused = client.post("/v1/events", json=event("copy"), headers=headers)
        assert refused.status_code == status
        assert "access-control-allow-origin" not in refused.headers
        assert refused.headers["vary"] == "Origin"
    unparsable = client.post("/v1/events", content=b"{", headers={"Authorization": "Bearer pk_1", "Origin": EVIL})
    assert unparsable.status_code == 400
    assert "access-control-allow-origin" not in unparsable.headers


def test_a_key_without_origins_allows_any_origin() -> None:
    client, _ = collector_client()  # sk_1 has no origins list: any origin (a server sends none anyway)
    ok = client.post("/v1/events", json=event("copy"), headers={"Authorization": "Bearer sk_1", "Origin": EVIL})
    assert ok.status_code == 202
    assert ok.headers["access-control-allow-origin"] == EVIL
