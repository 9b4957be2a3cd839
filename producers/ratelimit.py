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

import itertools
import math
import time
from collections.abc import Callable, Iterable

from producers.errors import RateLimited
from producers.key_kinds import ApiKey, KeyKind
from runtime.settings import Settings

# Rounding slack: a draw that fits the burst up to this many seconds is granted.
SLACK_S = 1e-9


class RateLimiter:
    """Token buckets by name, kept as the generic cell rate algorithm (GCRA) keeps them: one number
    per name, the time its bucket is full again (``full_at``). A bucket holds
    ``burst - max(0, full_at - now) * rate`` tokens, so taking ``n`` moves ``full_at`` to
    ``max(full_at, now) + n / rate``, which may lie at most ``burst / rate`` ahead of now: exactly
    the token bucket, with no object and no refill per name (the collector draws on a bucket per
    user of every request). A rate of 0 turns the limit off.

    A bucket full by now is the same as none: past ``capacity`` names, those are forgotten first,
    then the longest known (a forgotten bucket starts full again)."""

    def __init__(
        self, rate: float, burst: float, capacity: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.interval = 1.0 / rate if rate > 0 else 0.0  # seconds per token
        self.window = self.burst * self.interval  # how far ahead of now full_at may lie
        self.full_at: dict[str, float] = {}
        self.capacity = capacity
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    @property
    def known(self) -> int:
        """How many names have a bucket."""
        return len(self.full_at)

    def now(self) -> float:
        return self._clock()

    def after(self, name: str, cost: float, now: float) -> tuple[float, float]:
        """Where ``full_at`` of ``name`` moves if ``cost`` tokens are taken at ``now``, and the seconds
        to wait until they are there (0.0: take them now, by storing the first in ``full_at``)."""
        full_at = self.full_at.get(name, now)
        after = (full_at if full_at > now else now) + min(cost, self.burst) * self.interval
        wait = after - now - self.window
        return after, wait if wait > SLACK_S else 0.0

    def bound(self, now: float) -> None:
        """Past ``capacity`` names: forget the buckets full by now, then the first known."""
        names = self.full_at
        if len(names) <= self.capacity:
            return
        for name in [name for name, full_at in names.items() if full_at <= now]:
            del names[name]
        # Still near the bound: forget the first known too, down to 90% (the next pass is far off).
        keep = self.capacity - self.capacity // 10
        for name in list(itertools.islice(names, max(0, len(names) - keep))):
            del names[name]

    def wait_needed(self, name: str, cost: float) -> float:
        """Take ``cost`` tokens if they are there; else take none and say how long to wait."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        after, wait = self.after(name, cost, now)
        if not wait:
            self.full_at[name] = after
            self.bound(now)
        return wait


class RequestLimits:
    """The collector's limits, in items: per API key, per client address (public keys), per user."""

    def __init__(self, per_key: RateLimiter, per_user: RateLimiter, per_address: RateLimiter | None = None) -> None:
        self.per_key = per_key
        self.per_user = per_user
        self.per_address = per_address if per_address is not None else RateLimiter(0, 0)

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
        # bucket is drawn on once: a request of 100 events may draw on 100 users.
        taken: list[tuple[dict[str, float], str, float]] = []
        scope, wait = "", 0.0
        draws = [("this API key", self.per_key, api_key.key, total)]
        if api_key.kind is KeyKind.PUBLIC and address:
            draws.append(("this client address", self.per_address, address, total))
        for draw_scope, limiter, name, n in draws:
            if not limiter.enabled:
                continue
            full_at, needed = limiter.after(name, n, limiter.now())
            if needed > wait:
                scope, wait = draw_scope, needed
            taken.append((limiter.full_at, name, full_at))
        per_user = self.per_user
        if per_user.enabled and counts:
            # The hot part (one draw per user of the request), inlined from RateLimiter.after with one
            # clock reading for all of them.
            prefix, now = f"{api_key.tenant or ''}\x1f", per_user.now()
            names, burst, interval, window = per_user.full_at, per_user.burst, per_user.interval, per_user.window
            for user, n in counts.items():
                name = prefix + user
                start = names.get(name, now)
                after = (start if start > now else now) + (n if n < burst else burst) * interval
                needed = after - now - window
                if needed > SLACK_S and needed > wait:
                    scope, wait = "this user or session", needed
                taken.append((names, name, after))
        if wait > 0:
            raise RateLimited(f"rate limit for {scope} exceeded; retry later", retry_after=max(1, math.ceil(wait)))
        for names, name, full_at in taken:
            names[name] = full_at
        for limiter in (self.per_key, self.per_address, per_user):
            limiter.bound(limiter.now())
