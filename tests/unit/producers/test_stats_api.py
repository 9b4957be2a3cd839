"""``GET /v1/stats/<view>``: keys, tenants, errors; the figures come from an injected source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from producers.keys import ApiKey, KeyKind, KeyStore
from producers.stats_api import stats_routes
from runtime.readonly_query import QueryError, ReadScope

KEYS = KeyStore(
    [
        ApiKey("ak", KeyKind.ADMIN),
        ApiKey("an", KeyKind.ANALYST, "acme"),
        ApiKey("pk", KeyKind.PUBLIC, "acme"),
        ApiKey("sk", KeyKind.SECRET, "acme"),
    ]
)


class Source:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], ReadScope]] = []

    def view(self, name: str, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any] | None:
        self.calls.append((name, dict(params), scope))
        if name == "bad":
            raise ValueError("from: expected a time")
        if name == "down":
            raise QueryError("Code: 159. timeout")
        return {"view": name} if name != "unknown" else None


@pytest.fixture
def client_and_source() -> tuple[TestClient, Source]:
    source = Source()
    return TestClient(Starlette(routes=stats_routes(KEYS, source))), source


def get(client: TestClient, path: str, key: str | None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(path, headers=headers)


def test_admin_and_analyst_keys_read_with_their_scope(client_and_source: tuple[TestClient, Source]) -> None:
    client, source = client_and_source
    answer = get(client, "/v1/stats/quality?feature=chat", "ak")
    assert answer.status_code == 200
    assert answer.json() == {"view": "quality"}
    assert answer.headers["cache-control"] == "no-store"
    assert get(client, "/v1/stats/quality?tenant=acme", "an").status_code == 200
    assert source.calls == [
        ("quality", {"feature": "chat"}, ReadScope()),
        ("quality", {"tenant": "acme"}, ReadScope("acme")),
    ]


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("nope", 401), ("pk", 403), ("sk", 403)])
def test_other_keys_are_refused(client_and_source: tuple[TestClient, Source], key: str | None, status: int) -> None:
    client, source = client_and_source
    assert get(client, "/v1/stats/quality", key).status_code == status
    assert source.calls == []


def test_an_analyst_cannot_ask_for_another_tenant(client_and_source: tuple[TestClient, Source]) -> None:
    client, source = client_and_source
    answer = get(client, "/v1/stats/quality?tenant=globex", "an")
    assert answer.status_code == 403
    assert answer.json()["error"].startswith("tenant:")
    assert source.calls == []


def test_errors_become_their_answers(client_and_source: tuple[TestClient, Source]) -> None:
    client, _ = client_and_source
    bad = get(client, "/v1/stats/bad", "ak")
    assert (bad.status_code, bad.json()) == (400, {"error": "from: expected a time"})
    assert get(client, "/v1/stats/unknown", "ak").status_code == 404
    down = get(client, "/v1/stats/down", "ak")
    assert down.status_code == 503
    assert "Retry-After" in down.headers
