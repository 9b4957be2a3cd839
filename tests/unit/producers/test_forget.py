"""POST /v1/forget: who may erase whom, and the errors that name the field."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from producers.app import create_app
from tests.unit.producers.fakes import fake_collector


def client_with(calls: list[tuple[str, str, str]]) -> TestClient:
    def forget(tenant: str, user: str, requested_by: str) -> dict[str, Any]:
        calls.append((tenant, user, requested_by))
        if user == "bad":
            raise ValueError("user: at most 128 characters")
        return {"tenant": tenant, "user": user, "removed": {"events": 1}}

    collector = fake_collector()
    collector.forget = forget
    return TestClient(create_app(collector))


def post(client: TestClient, key: str, body: dict[str, Any]) -> Any:
    return client.post("/v1/forget", json=body, headers={"Authorization": f"Bearer {key}"})


def test_a_secret_key_erases_users_of_its_own_tenant() -> None:
    calls: list[tuple[str, str, str]] = []
    client = client_with(calls)
    assert post(client, "sk_1", {"user": "u-1"}).json() == {"tenant": "acme", "user": "u-1", "removed": {"events": 1}}
    assert post(client, "sk_1", {"tenant": "acme", "user": "u-2"}).status_code == 200
    refused = post(client, "sk_1", {"tenant": "globex", "user": "u-3"})
    assert refused.status_code == 403
    assert refused.json()["error"].startswith("tenant: a secret key of tenant 'acme'")
    assert calls == [("acme", "u-1", "secret:acme"), ("acme", "u-2", "secret:acme")]


def test_the_admin_key_names_the_tenant() -> None:
    calls: list[tuple[str, str, str]] = []
    client = client_with(calls)
    assert post(client, "ak_1", {"user": "u-1"}).json() == {"error": "tenant: required with the admin key"}
    assert post(client, "ak_1", {"tenant": "globex", "user": "u-1"}).status_code == 200
    assert calls == [("globex", "u-1", "admin")]


def test_other_keys_and_bad_bodies_are_refused_with_the_field() -> None:
    calls: list[tuple[str, str, str]] = []
    client = client_with(calls)
    assert post(client, "pk_1", {"user": "u-1"}).status_code == 403
    assert client.post("/v1/forget", json={"user": "u-1"}).status_code == 401
    assert post(client, "sk_1", {"user": ""}).json()["error"].startswith("user: required")
    assert post(client, "sk_1", {"user": 7}).status_code == 400
    assert post(client, "sk_1", {"user": "x" * 129}).json() == {"error": "user: at most 128 characters"}
    assert post(client, "sk_1", {"user": "bad"}).json() == {"error": "user: at most 128 characters"}
    assert calls == [("acme", "bad", "secret:acme")]


def test_without_clickhouse_the_collector_says_so() -> None:
    client = TestClient(create_app(fake_collector()))
    answer = post(client, "sk_1", {"user": "u-1"})
    assert answer.status_code == 503
    assert "no ClickHouse" in answer.json()["error"]
