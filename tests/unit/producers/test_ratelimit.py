from __future__ import annotations

import pytest

from producers.errors import RateLimited
from producers.ratelimit import RateLimiter, RequestLimits


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_grants_the_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=20, clock=clock)
    assert limiter.wait_needed("k", 20) == 0
    assert limiter.wait_needed("k", 5) == pytest.approx(0.5)
    clock.now = 0.5
    assert limiter.wait_needed("k", 5) == 0


def test_zero_rate_is_off_and_buckets_are_bounded() -> None:
    assert RateLimiter(rate=0, burst=0).wait_needed("k", 10**9) == 0
    limiter = RateLimiter(rate=1, burst=1, capacity=2)
    for name in ("a", "b", "c"):
        limiter.wait_needed(name, 1)
    assert len(limiter._buckets) == 2


def test_request_limits_name_the_scope_and_retry_after() -> None:
    clock = Clock()
    limits = RequestLimits(RateLimiter(1000, 1000, clock=clock), RateLimiter(1, 3, clock=clock))
    limits.check("key", "acme", ["u1", "u1", "u1"])
    with pytest.raises(RateLimited, match="user or session") as caught:
        limits.check("key", "acme", ["u1", "u1"])
    assert caught.value.retry_after == 2
    limits.check("key", "acme", ["u2", None])  # other users, and items without one, are not held back
    with pytest.raises(RateLimited, match="API key"):
        limits.check("key", "acme", [None] * 2000)
