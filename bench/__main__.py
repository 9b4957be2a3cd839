"""``python -m bench [--quick] [--only STAGE] [--profile DIR]``; STAGE: collector, worker, freshness, export,
alerts, dashboard or failover."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import (
    alerts_bench,
    collector_bench,
    dashboard_bench,
    export_bench,
    failover_bench,
    freshness_bench,
    worker_bench,
)
from bench.config import FULL, QUICK, Sizes
from bench.profiling import Profiler
from bench.report import RESULTS, finish, load_previous, merge, print_results
from runtime.logs import configure_logging

STAGES = ("collector", "worker", "freshness", "export", "alerts", "dashboard", "failover")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test in about a minute")
    parser.add_argument("--only", choices=STAGES, action="append", help="run only this stage (repeatable)")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record py-spy profiles of the collector and the worker into DIR (needs py-spy installed)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    return parser.parse_args(argv)


def stage_runner(stage: str, sizes: Sizes, profiler: Profiler | None) -> Callable[[], dict[str, Any]]:
    if stage == "collector":
        return lambda: collector_bench.run(sizes.collector, profiler)
    if stage == "worker":
        return lambda: worker_bench.run(sizes.worker, profiler)
    if stage == "export":
        return lambda: export_bench.run(sizes.export_events)
    if stage == "alerts":
        return lambda: alerts_bench.run(sizes.alert_seeds)
    if stage == "dashboard":
        return lambda: dashboard_bench.run(sizes.dashboard)
    if stage == "failover":
        return lambda: failover_bench.run(sizes.failover)
    return lambda: freshness_bench.run(sizes.freshness)


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (``make`` interrupted, a CI timeout) unwinds like Ctrl-C: subprocesses stopped, temp dirs
    and topics removed."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    configure_logging("console", "warning")
    console = Console()
    sizes = QUICK if args.quick else FULL
    profiler = None
    if args.profile is not None:
        profiler = Profiler(args.profile)
        if profiler.executable is None:
            console.print("[yellow]py-spy not found: running without profiles[/]")
            profiler = None
        else:
            console.print("[yellow]profiling: py-spy pauses the services, throughput will be about half[/]")
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    if load_at_start[0] > 0.5:
        console.print(f"[yellow]the machine is busy (load {load_at_start[0]}): numbers will be lower than idle[/]")
    results = load_previous(args.output)
    failed = []
    began = time.monotonic()
    for stage in args.only or STAGES:
        console.print(f"[bold]{stage}[/] …")
        started = time.monotonic()
        try:
            result = stage_runner(stage, sizes, profiler)()
        except Exception as exc:  # report the other stages anyway
            console.print(f"[red]{stage} failed:[/] {exc}")
            failed.append(stage)
            continue
        results = merge(results, stage, result)
        console.print(f"  done in {time.monotonic() - started:.1f}s")
    profiles = {name: p.as_json() for name, p in profiler.profiles.items()} if profiler else {}
    finish(results, args.quick, profiles, load_at_start, args.output)
    print_results(results, console)
    console.print(f"wrote {args.output} in {time.monotonic() - began:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
