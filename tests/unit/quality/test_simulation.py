"""Proof by simulation (issue 15 §4): seeded synthetic traffic through the alert rules, checked
after every 5 minutes of event time. The bench runs many more seeds and reports the rates."""

from __future__ import annotations

import pytest

from quality.detect import Policy
from quality.simulation import DEPLOYED, DOWN_RATE_TRIPLES, REGENERATE_DOUBLES, STABLE, Scenario, run

POLICY = Policy(min_samples=400, fdr=0.0001, min_relative_change=0.25)
SEEDS = range(5)


@pytest.mark.parametrize("seed", SEEDS)
def test_stable_corpus_raises_no_alert(seed: int) -> None:
    result = run(STABLE, seed, POLICY)
    assert result.alerts == []
    assert result.checks == 72  # six hours of checks after a day of baseline


@pytest.mark.parametrize(
    ("scenario", "metric"), [(DOWN_RATE_TRIPLES, "down_rate"), (REGENERATE_DOUBLES, "regenerate_rate")]
)
@pytest.mark.parametrize("seed", SEEDS)
def test_deploy_raises_exactly_its_alert_at_the_first_check_with_enough_samples(
    scenario: Scenario, metric: str, seed: int
) -> None:
    result = run(scenario, seed, POLICY)
    assert [(finding.group, finding.metric, finding.comparison) for _, finding in result.alerts] == [
        (DEPLOYED, metric, "versions")
    ]
    first = result.first_check_with_samples[metric]
    assert first is not None
    ((check, _),) = result.alerts
    assert check == first
