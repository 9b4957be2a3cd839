"""The statistics of the regression alerts, as pure functions (docs/contract.md §7 `alerts`).

Every test is one-sided in the direction that means "worse", so a version that got better never
raises an alert.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats


def proportion_worse_p(x: int, n: int, x_base: int, n_base: int, *, higher_is_worse: bool) -> float:
    """Two-proportion z-test (pooled variance): P(a difference this large in the worse direction
    if both periods had the same rate). 1.0 when a side is empty or the rates are degenerate."""
    if n <= 0 or n_base <= 0:
        return 1.0
    pooled = (x + x_base) / (n + n_base)
    variance = pooled * (1 - pooled) * (1 / n + 1 / n_base)
    if variance <= 0:
        return 1.0
    z = (x / n - x_base / n_base) / math.sqrt(variance)
    return float(stats.norm.sf(z if higher_is_worse else -z))


def mean_worse_p(
    mean: float, variance: float, n: int, mean_base: float, variance_base: float, n_base: int, *, higher_is_worse: bool
) -> float:
    """Welch's t-test from summary statistics (sample variances), one-sided toward worse."""
    if n < 2 or n_base < 2:
        return 1.0
    se2 = variance / n + variance_base / n_base
    if se2 <= 0:
        return 1.0
    t = (mean - mean_base) / math.sqrt(se2)
    # Welch-Satterthwaite degrees of freedom.
    denominator = (variance / n) ** 2 / (n - 1) + (variance_base / n_base) ** 2 / (n_base - 1)
    dof = se2**2 / denominator if denominator > 0 else float(n + n_base - 2)
    return float(stats.t.sf(t if higher_is_worse else -t, dof))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1), in input order.
    Alerting on adjusted ≤ q keeps the expected share of false alerts among a check's alerts ≤ q."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        running = min(running, p_values[index] * m / rank)
        adjusted[index] = min(1.0, running)
    return adjusted


def sample_variance(n: int, total: float, total_sq: float) -> float:
    """Unbiased variance from a count, a sum and a sum of squares (0 below two samples)."""
    if n < 2:
        return 0.0
    return max(0.0, (total_sq - total * total / n) / (n - 1))
