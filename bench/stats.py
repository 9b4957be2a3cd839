"""Percentiles and rates, in one place."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def weighted_percentile(pairs: Sequence[tuple[float, int]], q: float) -> float | None:
    """Nearest-rank percentile of values given with counts (``(value, count)``)."""
    total = sum(count for _, count in pairs)
    if total == 0:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    for value, count in sorted(pairs):
        seen += count
        if seen >= rank:
            return float(value)
    return float(max(value for value, _ in pairs))


def rate(count: float, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
