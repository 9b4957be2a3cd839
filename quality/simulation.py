"""Seeded synthetic traffic through the alert rules (quality/detect.py), exactly as checks every
step would see it: for the proof by simulation (tests, bench) and for tuning windows and
thresholds to a team's own traffic before trusting them (README "Quality alerts").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np

from quality.detect import METRICS, Finding, Group, Policy, Tally, find_regressions, not_yet_raised

TALLY_FIELDS = tuple(f.name for f in fields(Tally))
# The score the simulation's responses get: a fixed logistic model of their signals.
SCORE_INTERCEPT, SCORE_COPY, SCORE_REGENERATE, SCORE_REPHRASE = 1.0, 0.8, -1.2, -1.0


@dataclass(frozen=True)
class Rates:
    thumbed: float = 0.20  # share of responses with a thumb
    down: float = 0.10  # share of thumbs that are down
    regenerate: float = 0.10
    rephrase: float = 0.08
    copy: float = 0.25


@dataclass(frozen=True)
class Scenario:
    """Two features of one tenant on version v1; at the first check, `chat` moves to v2 with
    ``deployed`` rates (None: nothing changes, a stable corpus)."""

    name: str
    deployed: Rates | None = None
    base: Rates = field(default_factory=Rates)
    responses_per_step: int = 240
    step_s: int = 300
    window_steps: int = 12
    baseline_steps: int = 288
    check_steps: int = 72

    @property
    def deploy_step(self) -> int:
        return self.baseline_steps + self.window_steps


STABLE = Scenario("stable")
DOWN_RATE_TRIPLES = Scenario("down_rate 10% -> 30%", deployed=replace(Rates(), down=0.30))
REGENERATE_DOUBLES = Scenario("regenerate rate doubles", deployed=replace(Rates(), regenerate=0.20))
DEPLOYED = Group("acme", "m", "v2", "p1", "chat")
GROUPS_BEFORE = (Group("acme", "m", "v1", "p1", "chat"), Group("acme", "m", "v1", "p1", "search"))


@dataclass
class RunResult:
    alerts: list[tuple[int, Finding]]  # (check number from 0 = first check after the deploy, finding)
    checks: int
    first_check_with_samples: dict[str, int | None]  # per metric, for the deployed group

    def delay_s(self, scenario: Scenario, metric: str) -> float | None:
        """Event time from the deploy to the check that raised the deployed group's alert."""
        for check, finding in self.alerts:
            if finding.group == DEPLOYED and finding.metric == metric:
                return float((check + 1) * scenario.step_s)
        return None


def _step_tally(rng: np.random.Generator, n: int, rates: Rates) -> np.ndarray:
    thumbed = rng.random(n) < rates.thumbed
    down = thumbed & (rng.random(n) < rates.down)
    regenerated = rng.random(n) < rates.regenerate
    rephrased = rng.random(n) < rates.rephrase
    copied = rng.random(n) < rates.copy
    logit = SCORE_INTERCEPT + SCORE_COPY * copied + SCORE_REGENERATE * regenerated + SCORE_REPHRASE * rephrased
    score = 1 / (1 + np.exp(-logit))
    counts = (n, thumbed.sum(), down.sum(), regenerated.sum(), rephrased.sum(), copied.sum())
    return np.array([*counts, n, score.sum(), (score * score).sum()], dtype=np.float64)


def _traffic(scenario: Scenario, rng: np.random.Generator) -> dict[Group, np.ndarray]:
    """Per group, per step: the Tally fields as a row; cumulative (row t = steps before t)."""
    steps = scenario.deploy_step + scenario.check_steps
    series = {group: np.zeros((steps + 1, len(TALLY_FIELDS))) for group in (*GROUPS_BEFORE, DEPLOYED)}
    for step in range(steps):
        after = scenario.deployed is not None and step >= scenario.deploy_step
        for group in GROUPS_BEFORE:
            if group.feature == DEPLOYED.feature and after:
                assert scenario.deployed is not None
                series[DEPLOYED][step + 1] = _step_tally(rng, scenario.responses_per_step, scenario.deployed)
            else:
                series[group][step + 1] = _step_tally(rng, scenario.responses_per_step, scenario.base)
    return {group: np.cumsum(rows, axis=0) for group, rows in series.items()}


def _tallies(cumulative: dict[Group, np.ndarray], start: int, end: int) -> dict[Group, Tally]:
    out = {}
    for group, sums in cumulative.items():
        row = sums[end] - sums[start]
        if row[0] > 0:
            values = {name: row[i] for i, name in enumerate(TALLY_FIELDS)}
            out[group] = Tally(**{k: v if k.startswith("score_") else round(v) for k, v in values.items()})
    return out


def run(scenario: Scenario, seed: int, policy: Policy) -> RunResult:
    """Checks after every step from the deploy on, each with the alert store's dedupe."""
    cumulative = _traffic(scenario, np.random.default_rng(seed))
    raised: list[tuple[int, Finding]] = []
    first_with_samples: dict[str, int | None] = {metric.name: None for metric in METRICS}
    w, b = scenario.window_steps, scenario.baseline_steps
    for check in range(scenario.check_steps):
        end = scenario.deploy_step + check + 1
        window, baseline = _tallies(cumulative, end - w, end), _tallies(cumulative, max(0, end - w - b), end - w)
        for metric in METRICS:
            tally = window.get(DEPLOYED)
            if (
                first_with_samples[metric.name] is None
                and tally
                and getattr(tally, metric.denominator) >= (policy.min_samples)
            ):
                first_with_samples[metric.name] = check
        open_keys = {finding.key() for at, finding in raised if check - at < w}
        findings = find_regressions(window, baseline, policy)
        raised.extend((check, finding) for finding in not_yet_raised(findings, open_keys))
    return RunResult(raised, scenario.check_steps, first_with_samples)


@dataclass(frozen=True)
class Summary:
    scenario: str
    runs: int
    runs_with_false_alarm: int
    false_alarms: int
    checks: int
    detected: int
    delays_s: tuple[float, ...]
    at_first_check_with_samples: int

    @property
    def false_alarm_rate(self) -> float:
        """Share of runs with at least one alert that is not the expected one."""
        return self.runs_with_false_alarm / self.runs

    @property
    def median_delay_s(self) -> float:
        return float(np.median(self.delays_s)) if self.delays_s else math.nan


def summarise(scenario: Scenario, expected_metric: str | None, seeds: range, policy: Policy) -> Summary:
    runs_with_false, false_alarms, detected, at_first, delays = 0, 0, 0, 0, []
    checks = 0
    for seed in seeds:
        result = run(scenario, seed, policy)
        checks += result.checks
        wrong = [f for _, f in result.alerts if not (f.group == DEPLOYED and f.metric == expected_metric)]
        false_alarms += len(wrong)
        runs_with_false += bool(wrong)
        if expected_metric is not None:
            delay = result.delay_s(scenario, expected_metric)
            if delay is not None:
                detected += 1
                delays.append(delay)
                first = result.first_check_with_samples[expected_metric]
                if first is not None and delay == (first + 1) * scenario.step_s:
                    at_first += 1
    return Summary(scenario.name, len(seeds), runs_with_false, false_alarms, checks, detected, tuple(delays), at_first)
