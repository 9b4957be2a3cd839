"""The default limits mean something: one person at a human pace, one address for browsers, one
key for backends; forwarded headers are believed only from trusted proxies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2  # what starlette's TestClient answers with
import pytest
from starlette.testclient import TestClient

from producers.app import create_app
from producers.client_address import client_address
from runtime.networks import parse_networks
from runtime.settings import Settings
from tests.helpers import event
from tests.unit.producers.fakes import fake_collector

LIMITS = [name for name in Settings.model_fields if name.startswith("rate_limit_")]
DEFAULT_LIMITS = {name: Settings.model_fields[name].default for name in LIMITS}


def client(peer: str = "198.51.100.1", **settings: Any) -> TestClient:
    return TestClient(create_app(fake_collector(**(DEFAULT_LIMITS | settings))), client=(peer, 40000))


def post(http: TestClient, items: list[dict[str, Any]], key: str = "pk_1", **headers: str) -> httpx2.Response:
    return http.post("/v1/events", json={"events": items}, headers={"Authorization": f"Bearer {key}", **headers})


def send_until_limited(send: Callable[[], httpx2.Response], attempts: int) -> httpx2.Response | None:
    for _ in range(attempts):
        response = send()
        if response.status_code != 202:
            return response
    return None


def test_one_user_sending_thousands_in_a_row_meets_429_on_the_defaults() -> None:
    http = client()
    sent = []

    def batch() -> httpx2.Response:
        sent.append(10)
        return post(http, [event("copy", user_id="u-1") for _ in range(10)])

    limited = send_until_limited(batch, 300)
    assert limited is not None
    assert limited.status_code == 429
    assert sum(sent) <= 400  # a burst of a few hundred, not thousands
    assert "user or session" in limited.json()["error"]
    assert int(limited.headers["retry-after"]) >= 1
    # one at a time, too (a chatty widget, a replayed queue)
    single = send_until_limited(lambda: post(http, [event("copy", user_id="u-2")]), 3000)
    assert single is not None
    assert single.status_code == 429


@pytest.mark.parametrize("rotate", ["user_id", "session_id"])
def test_rotating_user_or_session_ids_still_meets_the_address_limit(rotate: str) -> None:
    http = client()
    counter = iter(range(10**6))

    def rotating() -> httpx2.Response:
        return post(http, [event("copy", **({"user_id": None} | {rotate: f"id-{next(counter)}"})) for _ in range(10)])

    limited = send_until_limited(rotating, 1000)
    assert limited is not None
    assert limited.status_code == 429
    assert "client address" in limited.json()["error"]
    assert int(limited.headers["retry-after"]) >= 1
    assert post(client("198.51.100.2"), [event("copy", user_id="u-3")]).status_code == 202


def test_forwarded_headers_are_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    http = client()
    counter = iter(range(10**6))

    def spoofing() -> httpx2.Response:
        n = next(counter)
        batch = [event("copy", user_id=f"id-{n}-{i}") for i in range(10)]
        return post(http, batch, **{"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"})

    limited = send_until_limited(spoofing, 1000)
    assert limited is not None
    assert "client address" in limited.json()["error"]

    proxied = client("10.0.0.5", trusted_proxies="10.0.0.0/24")
    for n in range(150):  # 1500 items, more than one address may send: behind the proxy, a bucket each
        batch = [event("copy", user_id=f"p-{n}-{i}") for i in range(10)]
        response = post(proxied, batch, **{"X-Forwarded-For": f"203.0.113.{n}, 10.0.0.4"})
        assert response.status_code == 202, response.text


def test_a_backend_with_a_secret_key_is_limited_per_key_not_per_address() -> None:
    http = client(rate_limit_key_per_s=1, rate_limit_key_burst=2_050)
    for n in range(200):  # 2000 items of 2000 users from one address: more than an address may send
        assert post(http, [event("copy", user_id=f"b-{n}-{i}") for i in range(10)], key="sk_1").status_code == 202
    limited = send_until_limited(lambda: post(http, [event("copy", user_id=None)], "sk_1"), 2000)
    assert limited is not None
    assert "API key" in limited.json()["error"]


def test_client_address_reads_x_forwarded_for_right_to_left_from_trusted_proxies() -> None:
    trusted = parse_networks("10.0.0.0/8, 192.0.2.1")
    assert client_address("203.0.113.9", "1.2.3.4", trusted) == "203.0.113.9"  # not a proxy: its own word
    assert client_address("10.0.0.1", "1.2.3.4, 203.0.113.9", trusted) == "203.0.113.9"  # the spoofed hop is left
    assert client_address("10.0.0.1", "203.0.113.9, 192.0.2.1, 10.1.1.1", trusted) == "203.0.113.9"
    assert client_address("10.0.0.1", None, trusted) == "10.0.0.1"
    assert client_address("10.0.0.1", "1.2.3.4", ()) == "10.0.0.1"  # no trusted proxies: nobody's header
    assert client_address("10.0.0.1", "not-an-ip", trusted) == "10.0.0.1"


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ValueError, match=r"'example\.com' is not an IP address or network"):
        Settings(trusted_proxies="10.0.0.0/8, example.com")
