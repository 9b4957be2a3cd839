"""Token buckets per API key and per user (or session): abuse gets 429 with Retry-After."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from producers.errors import RateLimited


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    burst: float  # capacity
    tokens: float
    updated: float

    def take(self, cost: float, now: float) -> float:
        """Take ``cost`` tokens; 0.0 when granted, else the seconds until it would be."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if cost <= self.tokens:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


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

    def wait_needed(self, name: str, cost: float) -> float:
        if not self.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = TokenBucket(self.rate, self.burst, self.burst, now)
            if len(self._buckets) > self._capacity:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(name)
        return bucket.take(min(cost, self.burst), now)


class RequestLimits:
    """The collector's two limits: items per API key, and items per user/session of a tenant."""

    def __init__(self, per_key: RateLimiter, per_user: RateLimiter) -> None:
        self.per_key = per_key
        self.per_user = per_user

    def check(self, key: str, tenant: str, users: Iterable[str | None]) -> None:
        counts: dict[str, int] = {}
        total = 0
        for user in users:
            total += 1
            if user:
                counts[user] = counts.get(user, 0) + 1
        waits = [self.per_key.wait_needed(key, total)]
        waits += [self.per_user.wait_needed(f"{tenant}\x1f{user}", n) for user, n in counts.items()]
        wait = max(waits)
        if wait > 0:
            scope = "this API key" if waits[0] == wait else "this user or session"
            raise RateLimited(f"rate limit for {scope} exceeded; retry later", retry_after=max(1, math.ceil(wait)))
