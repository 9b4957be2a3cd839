"""Token buckets per API key, per client address and per user (or session): abuse gets 429 with
Retry-After.

- per user (or session) of a tenant: one person's signals, at a human pace;
- per client address, for public keys only: a browser script that rotates ``user_id`` and
  ``session_id`` still meets a limit (the address is the TCP peer, or the client a trusted
  proxy names; see ``producers.client_address``);
- per key: everything one key sends. A backend relaying many users with a secret key shares one
  address, so it is limited per key (and per user), never per address.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from producers.errors import RateLimited
from producers.key_kinds import ApiKey, KeyKind
from runtime.settings import Settings


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    burst: float  # capacity
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, cost: float) -> float:
        """0.0 when ``cost`` tokens are there, else the seconds until they would be."""
        return 0.0 if cost <= self.tokens else (cost - self.tokens) / self.rate

    def take(self, cost: float, now: float) -> float:
        """Take ``cost`` tokens; 0.0 when granted, else the seconds until it would be."""
        self.refill(now)
        wait = self.wait_for(cost)
        if wait == 0.0:
            self.tokens -= cost
        return wait


class RateLimiter:
    """Buckets by name, created full on first use, the least recently used forgotten past ``capacity``.
    A rate of 0 turns the limit off."""

    def __init__(
        self, rate: float, burst: float, capacity: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._capacity = capacity
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def now(self) -> float:
        return self._clock()

    def refilled(self, name: str, now: float) -> TokenBucket:
        """The bucket of ``name``, refilled to ``now`` (a reading of ``now()``)."""
        buckets = self._buckets
        bucket = buckets.get(name)
        if bucket is None:
            bucket = buckets[name] = TokenBucket(self.rate, self.burst, self.burst, now)
            if len(buckets) > self._capacity:
                buckets.popitem(last=False)
            return bucket
        buckets.move_to_end(name)
        bucket.refill(now)
        return bucket

    def bucket(self, name: str) -> TokenBucket:
        """The bucket of ``name``, refilled to now."""
        return self.refilled(name, self._clock())

    def wait_needed(self, name: str, cost: float) -> float:
        """Take ``cost`` tokens if they are there; else take none and say how long to wait."""
        if not self.enabled:
            return 0.0
        return self.refilled(name, self._clock()).take(min(cost, self.burst), self._clock())

    def peek(self, name: str, cost: float) -> float:
        """How long until ``cost`` tokens are there, taking none."""
        if not self.enabled:
            return 0.0
        return self.refilled(name, self._clock()).wait_for(min(cost, self.burst))


class RequestLimits:
    """The collector's limits, in items: per API key, per client address (public keys), per user."""

    def __init__(self, per_key: RateLimiter, per_user: RateLimiter, per_address: RateLimiter | None = None) -> None:
        self.per_key = per_key
        self.per_user = per_user
        self.per_address = per_address or RateLimiter(0, 0)

    @classmethod
    def of(cls, settings: Settings) -> RequestLimits:
        return cls(
            RateLimiter(settings.rate_limit_key_per_s, settings.rate_limit_key_burst),
            RateLimiter(settings.rate_limit_user_per_s, settings.rate_limit_user_burst),
            RateLimiter(settings.rate_limit_address_per_s, settings.rate_limit_address_burst),
        )

    def check(self, api_key: ApiKey, users: Iterable[str | None], address: str | None = None) -> None:
        """Take the request's items from every bucket it draws on, or from none and raise 429."""
        counts: dict[str, int] = {}
        total = 0
        for user in users:
            total += 1
            if user:
                counts[user] = counts.get(user, 0) + 1
        # All or nothing: a refused request costs no bucket anything, so Retry-After holds. Each
        # bucket is looked up (and refilled) once: a request of 100 events may draw on 100 users.
        taken: list[tuple[TokenBucket, float]] = []
        scope, wait = "", 0.0
        draws = [("this API key", self.per_key, api_key.key, total)]
        if api_key.kind is KeyKind.PUBLIC and address:
            draws.append(("this client address", self.per_address, address, total))
        for draw_scope, limiter, name, n in draws:
            if not limiter.enabled:
                continue
            cost = min(n, limiter.burst)
            bucket = limiter.bucket(name)
            needed = bucket.wait_for(cost)
            if needed > wait:
                scope, wait = draw_scope, needed
            taken.append((bucket, cost))
        per_user = self.per_user
        if per_user.enabled and counts:
            # The hot part (one draw per user of the request): one clock reading for all of them.
            prefix, burst, now = f"{api_key.tenant or ''}\x1f", per_user.burst, per_user.now()
            for user, n in counts.items():
                cost = min(n, burst)
                bucket = per_user.refilled(prefix + user, now)
                needed = bucket.wait_for(cost)
                if needed > wait:
                    scope, wait = "this user or session", needed
                taken.append((bucket, cost))
        if wait > 0:
            raise RateLimited(f"rate limit for {scope} exceeded; retry later", retry_after=max(1, math.ceil(wait)))
        for bucket, cost in taken:
            bucket.tokens -= cost
