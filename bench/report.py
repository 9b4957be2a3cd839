"""The results: a rich table with the targets beside the numbers, and ``bench/results.json``."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.config import TARGETS, Target

RESULTS = Path(__file__).resolve().parent / "results.json"
KEYS = (
    "collector_events_per_s",
    "collector_p50_ms",
    "collector_p99_ms",
    "baseline_produce_events_per_s",
    "collector_ratio",
    "collector_redaction_ratio",
    "collector_redaction_clean_ratio",
    "collector_cpu_ratio",
    "collector_multi_events_per_s",
    "collector_processes",
    "worker_events_per_s",
    "baseline_insert_events_per_s",
    "worker_ratio",
    "worker_multi_events_per_s",
    "worker_processes",
    "worker_telemetry_ratio",
    "freshness_p50_ms",
    "freshness_p99_ms",
    "collector_peak_rss_mb",
    "worker_peak_rss_mb",
    "export_peak_rss_mb",
    "export_rss_ratio",
    "export_eval_events_per_s",
    "alerts_false_alarm_run_rate",
    "alerts_down_rate_detected_rate",
    "alerts_down_rate_at_first_check_rate",
    "alerts_down_rate_delay_min_p50",
    "alerts_regenerate_detected_rate",
    "alerts_regenerate_at_first_check_rate",
    "alerts_regenerate_delay_min_p50",
    "dashboard_events",
    "dashboard_slowest_view_ms",
    "dashboard_slowest_page_ms",
    "broker_failover_gap_s",
    "broker_failover_503s",
)
TARGET_OF: dict[str, Target] = {target.key: target for target in TARGETS}


def load_previous(path: Path = RESULTS) -> dict[str, Any]:
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return previous if isinstance(previous, dict) else {}


def merge(previous: dict[str, Any], stage: str, result: dict[str, Any]) -> dict[str, Any]:
    """A stage's keys replace the previous run's (``--only`` keeps the other stages' numbers)."""
    merged = {key: previous.get(key) for key in KEYS}
    merged.update({key: value for key, value in result.items() if key != "details"})
    details = dict(previous.get("details", {}))
    details.update(result.get("details", {}))
    merged["details"] = details
    measured = dict(previous.get("measured_at", {}))
    measured[stage] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    merged["measured_at"] = measured
    return merged


def finish(
    results: dict[str, Any],
    quick: bool,
    profiles: dict[str, Any],
    load_at_start: list[float],
    path: Path = RESULTS,
) -> None:
    results["targets"] = {t.key: {"bound": t.bound, "met": t.met(results.get(t.key))} for t in TARGETS}
    results["machine"] = {
        "cpus": _cpus(),
        "python": platform.python_version(),
        "quick": quick,
        "profiled": bool(profiles),
        "loadavg_at_start": load_at_start,
        "note": "other_cpu_cores in details = machine CPU not used by the measured process, its clients or the broker",
    }
    if profiles:
        results["profiles"] = profiles
    ordered = {key: results.get(key) for key in KEYS}
    ordered.update({key: value for key, value in results.items() if key not in ordered})
    path.write_text(json.dumps(ordered, indent=2) + "\n")


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    if isinstance(value, (int, float)):
        return f"{value:,}"
    return str(value)


def table(results: dict[str, Any]) -> Table:
    out = Table(title="feedback-pipeline bench" + (" (quick)" if results.get("machine", {}).get("quick") else ""))
    out.add_column("metric")
    out.add_column("value", justify="right")
    out.add_column("target", justify="right")
    out.add_column("", justify="center")
    for key in KEYS:
        value = results.get(key)
        target = TARGET_OF.get(key)
        met = target.met(value) if target else None
        mark = "" if met is None else ("[green]met[/]" if met else "[red]missed[/]")
        out.add_row(key, _fmt(value), target.describe() if target else "", mark)
    return out


def print_results(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(table(results))
    profiles = results.get("profiles") or {}
    for name, profile in profiles.items():
        sub = Table(title=f"{name}: py-spy, {profile['busy_samples']} busy of {profile['samples']} samples")
        sub.add_column("running (share of busy samples)")
        sub.add_column("share", justify="right")
        for category, share in profile["categories_of_busy"].items():
            sub.add_row(category, f"{share:.1%}")
        for category, share in profile["waits_of_all_samples"].items():
            sub.add_row(f"[dim]{category} (of all samples)[/]", f"[dim]{share:.1%}[/]")
        console.print(sub)
