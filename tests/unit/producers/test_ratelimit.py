from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.errors import RateLimited
from producers.key_kinds import ApiKey, KeyKind
from producers.ratelimit import RateLimiter, RequestLimits

PUBLIC = ApiKey("pk", KeyKind.PUBLIC, "acme")
SECRET = ApiKey("sk", KeyKind.SECRET, "acme")


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
    assert limiter.known == 2


def test_request_limits_name_the_scope_and_retry_after() -> None:
    clock = Clock()
    limits = RequestLimits(RateLimiter(1000, 1000, clock=clock), RateLimiter(1, 3, clock=clock))
    limits.check(SECRET, ["u1", "u1", "u1"])
    with pytest.raises(RateLimited, match="user or session") as caught:
        limits.check(SECRET, ["u1", "u1"])
    assert caught.value.retry_after == 2
    limits.check(SECRET, ["u2", None])  # other users, and items without one, are not held back
    with pytest.raises(RateLimited, match="API key"):
        limits.check(SECRET, [None] * 2000)


def test_the_address_limit_holds_public_keys_only() -> None:
    clock = Clock()
    limits = RequestLimits(
        RateLimiter(10_000, 10_000, clock=clock), RateLimiter(1, 3, clock=clock), RateLimiter(10, 20, clock=clock)
    )
    rotating = [f"u{i}" for i in range(20)]
    limits.check(PUBLIC, rotating, "203.0.113.7")
    with pytest.raises(RateLimited, match="client address") as caught:
        limits.check(PUBLIC, ["fresh-user"], "203.0.113.7")
    assert caught.value.retry_after == 1
    limits.check(PUBLIC, ["fresh-user"], "203.0.113.8")  # another address
    for _ in range(5):  # a backend relaying many users with a secret key: per key, not per address
        limits.check(SECRET, [f"v{i}-{_}" for i in range(20)], "203.0.113.7")


def test_a_refused_request_costs_no_bucket_anything() -> None:
    clock = Clock()
    limits = RequestLimits(RateLimiter(100, 10, clock=clock), RateLimiter(1, 2, clock=clock))
    limits.check(SECRET, ["u1", "u1"])
    for _ in range(20):  # refused for the user: the key's bucket is not drained meanwhile
        with pytest.raises(RateLimited, match="user or session"):
            limits.check(SECRET, ["u1"])
    limits.check(SECRET, [None] * 8)


class ReferenceBucket:
    """The token bucket as the README states it: refilled at ``rate`` up to ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.updated = rate, burst, burst, 0.0

    def take(self, cost: float, now: float) -> float:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if cost <= self.tokens + 1e-9:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


@given(
    rate=st.sampled_from([0.5, 1, 3, 10, 1000]),
    burst=st.integers(1, 50),
    draws=st.lists(st.tuples(st.floats(0, 5), st.integers(1, 60)), max_size=40),
)
def test_the_limiter_grants_and_refuses_as_a_token_bucket(
    rate: float, burst: int, draws: list[tuple[float, int]]
) -> None:
    clock = Clock()
    limiter, reference = RateLimiter(rate, burst, clock=clock), ReferenceBucket(rate, burst)
    for elapsed, asked in draws:
        clock.now += elapsed
        cost = min(asked, burst)
        assert limiter.wait_needed("k", cost) == pytest.approx(reference.take(cost, clock.now), abs=1e-6)


def test_past_capacity_full_buckets_are_forgotten_first() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=10, capacity=3, clock=clock)
    limiter.wait_needed("busy", 10)  # empty: full again only at 10 s
    for name in ("a", "b"):
        limiter.wait_needed(name, 1)  # full again at 1 s
    clock.now = 2.0
    limiter.wait_needed("c", 1)  # a fourth name: "a" and "b" are full by now, and go
    assert sorted(limiter.full_at) == ["busy", "c"]
    assert limiter.wait_needed("busy", 3) == pytest.approx(1.0)  # still drawn down: 2 tokens back by now
