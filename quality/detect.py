"""Which groups got worse: window against baseline, per tenant x model x version x prompt x feature.

Pure: takes per-group tallies of the two periods and a policy, returns findings. The ClickHouse
reader (quality/alerts.py) and the simulation (bench, tests) feed it alike.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Literal

from quality.stats import benjamini_hochberg, mean_worse_p, proportion_worse_p, sample_variance

Comparison = Literal["self", "versions"]
# (tenant, metric, comparison, sorted dimensions): one regression, whatever window it was seen in.
AlertKey = tuple[str, str, str, tuple[tuple[str, str], ...]]
ALERT_NAMESPACE = uuid.UUID("5f0e0a52-63c4-4c3e-9d0b-0a1e7f5c2b15")


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_worse: bool
    numerator: str  # Tally field counted (a rate) or summed (a mean)
    denominator: str  # Tally field: the responses the metric is over

    @property
    def is_mean(self) -> bool:
        return self.denominator == "scored"


# The alert metrics, in one place (README "Quality alerts" says what each means).
METRICS = (
    Metric("down_rate", True, "downs", "thumbed"),
    Metric("regenerate_rate", True, "regenerated", "responses"),
    Metric("rephrase_rate", True, "rephrased", "responses"),
    Metric("copy_rate", False, "copied", "responses"),
    Metric("mean_score", False, "score_sum", "scored"),
)
METRIC_NAMES = tuple(metric.name for metric in METRICS)


@dataclass(frozen=True, order=True)
class Group:
    tenant_id: str
    model: str
    model_version: str
    prompt_version: str
    feature: str

    def dimensions(self) -> dict[str, str]:
        return {
            "model": self.model,
            "model_version": self.model_version,
            "prompt_version": self.prompt_version,
            "feature": self.feature,
        }


@dataclass
class Tally:
    """What a group's responses in one period drew; each signal at most once per response."""

    responses: int = 0
    thumbed: int = 0  # responses whose current thumb is up or down
    downs: int = 0
    regenerated: int = 0
    rephrased: int = 0
    copied: int = 0
    scored: int = 0
    score_sum: float = 0.0
    score_sumsq: float = 0.0

    def add(self, other: Tally) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def value(self, metric: Metric) -> float:
        n = getattr(self, metric.denominator)
        return float(getattr(self, metric.numerator)) / n if n else math.nan


@dataclass(frozen=True)
class Policy:
    min_samples: int = 100
    fdr: float = 0.0001
    min_relative_change: float = 0.25


@dataclass(frozen=True)
class Finding:
    group: Group
    metric: str
    comparison: Comparison
    baseline: float
    current: float
    n: int
    baseline_n: int
    p_value: float
    p_adjusted: float
    severity: str

    def key(self) -> AlertKey:
        return (self.group.tenant_id, self.metric, self.comparison, tuple(sorted(self.group.dimensions().items())))

    def alert_id(self, window_end: datetime) -> str:
        return str(uuid.uuid5(ALERT_NAMESPACE, repr((*self.key(), window_end.isoformat()))))


@dataclass(frozen=True)
class _Test:
    group: Group
    metric: Metric
    comparison: Comparison
    current: Tally
    reference: Tally
    p_value: float


def _p_value(metric: Metric, current: Tally, reference: Tally) -> float:
    n, n_base = getattr(current, metric.denominator), getattr(reference, metric.denominator)
    if metric.is_mean:
        return mean_worse_p(
            current.value(metric),
            sample_variance(n, current.score_sum, current.score_sumsq),
            n,
            reference.value(metric),
            sample_variance(n_base, reference.score_sum, reference.score_sumsq),
            n_base,
            higher_is_worse=metric.higher_is_worse,
        )
    return proportion_worse_p(
        int(getattr(current, metric.numerator)),
        n,
        int(getattr(reference, metric.numerator)),
        n_base,
        higher_is_worse=metric.higher_is_worse,
    )


def relative_worsening(metric: Metric, current: float, baseline: float) -> float:
    """How much worse, relative to the baseline (inf from a zero baseline; ≤ 0 when not worse)."""
    change = current - baseline if metric.higher_is_worse else baseline - current
    if baseline == 0:
        return math.inf if change > 0 else 0.0
    return change / abs(baseline)


def comparisons(
    window: Mapping[Group, Tally], baseline: Mapping[Group, Tally], min_samples: int
) -> list[tuple[Group, Comparison, Tally, Tally]]:
    """What to compare: an established group against its own baseline; a group new in the window
    (fewer than ``min_samples`` baseline responses: a new model or prompt version) against the
    pooled baseline of the other versions of the same tenant and feature."""
    by_feature: dict[tuple[str, str], list[tuple[Group, Tally]]] = defaultdict(list)
    for group, tally in baseline.items():
        by_feature[(group.tenant_id, group.feature)].append((group, tally))
    out: list[tuple[Group, Comparison, Tally, Tally]] = []
    for group, current in sorted(window.items()):
        own = baseline.get(group)
        if own is not None and own.responses >= min_samples:
            out.append((group, "self", current, own))
            continue
        replaced = Tally()
        for other, tally in by_feature.get((group.tenant_id, group.feature), []):
            if other != group:
                replaced.add(tally)
        if replaced.responses:
            out.append((group, "versions", current, replaced))
    return out


def find_regressions(window: Mapping[Group, Tally], baseline: Mapping[Group, Tally], policy: Policy) -> list[Finding]:
    """Every metric of every comparison with enough samples on both sides is tested; the p-values
    of the whole check are corrected together (Benjamini-Hochberg); a finding must also be worse by
    at least ``min_relative_change`` of the baseline (a tiny shift in a huge sample is not news)."""
    tests: list[_Test] = []
    for group, comparison, current, reference in comparisons(window, baseline, policy.min_samples):
        for metric in METRICS:
            n, n_base = getattr(current, metric.denominator), getattr(reference, metric.denominator)
            if n < policy.min_samples or n_base < policy.min_samples:
                continue
            tests.append(_Test(group, metric, comparison, current, reference, _p_value(metric, current, reference)))
    adjusted = benjamini_hochberg([test.p_value for test in tests])
    findings = []
    for test, p_adjusted in zip(tests, adjusted, strict=True):
        now, before = test.current.value(test.metric), test.reference.value(test.metric)
        worse_by = relative_worsening(test.metric, now, before)
        if p_adjusted > policy.fdr or worse_by < policy.min_relative_change:
            continue
        critical = p_adjusted <= policy.fdr / 10 and worse_by >= 2 * policy.min_relative_change
        findings.append(
            Finding(
                group=test.group,
                metric=test.metric.name,
                comparison=test.comparison,
                baseline=before,
                current=now,
                n=getattr(test.current, test.metric.denominator),
                baseline_n=getattr(test.reference, test.metric.denominator),
                p_value=test.p_value,
                p_adjusted=p_adjusted,
                severity="critical" if critical else "warning",
            )
        )
    return findings


def not_yet_raised(findings: list[Finding], open_keys: set[AlertKey]) -> list[Finding]:
    """One alert per regression and window: drop findings whose regression already has an alert
    whose window overlaps this one (``open_keys``, from the alerts store)."""
    return [finding for finding in findings if finding.key() not in open_keys]
