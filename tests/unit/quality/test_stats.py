"""The alert statistics, against values computed by hand or by scipy's own tests."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from quality.stats import benjamini_hochberg, mean_worse_p, proportion_worse_p, sample_variance


def test_two_proportion_z_one_sided_toward_worse() -> None:
    # 30/100 vs 10/100: pooled 0.2, se = sqrt(0.2*0.8*0.02) = 0.0566, z = 3.536
    p = proportion_worse_p(30, 100, 10, 100, higher_is_worse=True)
    assert p == pytest.approx(stats.norm.sf(0.2 / math.sqrt(0.2 * 0.8 * 0.02)))
    assert p < 0.001
    # The same numbers are an improvement when lower is worse (copy rate): no evidence of worse.
    assert proportion_worse_p(30, 100, 10, 100, higher_is_worse=False) > 0.99


def test_proportion_degenerate_sides_are_not_evidence() -> None:
    assert proportion_worse_p(0, 0, 5, 100, higher_is_worse=True) == 1.0
    assert proportion_worse_p(0, 100, 0, 100, higher_is_worse=True) == 1.0
    assert proportion_worse_p(100, 100, 100, 100, higher_is_worse=True) == 1.0


def test_welch_from_summaries_matches_scipy_on_raw_samples() -> None:
    a = [0.61, 0.55, 0.7, 0.52, 0.58, 0.49, 0.6]
    b = [0.72, 0.69, 0.75, 0.8, 0.71, 0.77, 0.74, 0.7]

    def summary(xs: list[float]) -> tuple[float, float, int]:
        return sum(xs) / len(xs), sample_variance(len(xs), sum(xs), sum(x * x for x in xs)), len(xs)

    expected = stats.ttest_ind(a, b, equal_var=False, alternative="less").pvalue
    assert mean_worse_p(*summary(a), *summary(b), higher_is_worse=False) == pytest.approx(expected)
    assert mean_worse_p(0.5, 0.0, 1, 0.7, 0.01, 10, higher_is_worse=False) == 1.0


def test_benjamini_hochberg_matches_the_textbook_example() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> *4/rank: 0.02, 0.02, 0.04, 0.04 (monotone from the top)
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([]) == []
    assert benjamini_hochberg([0.9, 0.95]) == pytest.approx([0.95, 0.95])
