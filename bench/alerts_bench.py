"""Regression alerts by simulation: seeded synthetic corpora checked every 5 minutes of event time
with the default policy (FEEDBACK_ALERT_*). Rates and delays, not timings: how often a stable
corpus raises an alert, how soon a deploy that triples the down-rate (or doubles the regenerate
rate) is caught, and whether it is caught at the first check with enough samples."""

from __future__ import annotations

from typing import Any

import numpy as np

from quality.detect import Policy
from quality.simulation import DOWN_RATE_TRIPLES, REGENERATE_DOUBLES, STABLE, Scenario, Summary, summarise
from runtime.settings import Settings

SCENARIOS: tuple[tuple[str, Scenario, str | None], ...] = (
    ("stable", STABLE, None),
    ("down_rate", DOWN_RATE_TRIPLES, "down_rate"),
    ("regenerate", REGENERATE_DOUBLES, "regenerate_rate"),
)


def _details(summary: Summary, scenario: Scenario) -> dict[str, Any]:
    delays_min = [d / 60 for d in summary.delays_s]
    return {
        "scenario": summary.scenario,
        "runs": summary.runs,
        "checks": summary.checks,
        "check_every_min": scenario.step_s / 60,
        "responses_per_hour_per_group": scenario.responses_per_step * 3600 // scenario.step_s,
        "runs_with_false_alarm": summary.runs_with_false_alarm,
        "false_alarms": summary.false_alarms,
        "detected": summary.detected,
        "at_first_check_with_enough_samples": summary.at_first_check_with_samples,
        "delay_min_p50": float(np.median(delays_min)) if delays_min else None,
        "delay_min_p90": float(np.percentile(delays_min, 90)) if delays_min else None,
        "delay_min_max": max(delays_min) if delays_min else None,
    }


def run(seeds: int) -> dict[str, Any]:
    settings = Settings()
    policy = Policy(settings.alert_min_samples, settings.alert_fdr, settings.alert_min_relative_change)
    details: dict[str, Any] = {"policy": policy.__dict__}
    out: dict[str, Any] = {}
    false_runs, total_runs = 0, 0
    for name, scenario, metric in SCENARIOS:
        summary = summarise(scenario, metric, range(seeds), policy)
        details[name] = _details(summary, scenario)
        false_runs += summary.runs_with_false_alarm
        total_runs += summary.runs
        if metric is not None:
            out[f"alerts_{name}_detected_rate"] = round(summary.detected / summary.runs, 3)
            out[f"alerts_{name}_at_first_check_rate"] = round(summary.at_first_check_with_samples / summary.runs, 3)
            out[f"alerts_{name}_delay_min_p50"] = details[name]["delay_min_p50"]
    out["alerts_false_alarm_run_rate"] = round(false_runs / total_runs, 4)
    out["details"] = {"alerts": details}
    return out
