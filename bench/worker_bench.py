"""Stage 2: one ``feedback worker`` process, Kafka → ClickHouse (decode, dedupe, trace join, insert);
and the same rows inserted straight into the tables (no Kafka) as the baseline.

The topics are filled first (events and their traces, through the in-process producer path);
then the worker starts with a fresh group and its own chdb engine. Its progress is read from
outside — the group's committed offsets against the high watermarks (commits follow the
ClickHouse insert) — because chdb lets only the worker's process open its engine. The clock
runs from the worker's ``worker.assigned`` log line (partitions assigned; imports, migrations
and the group join are before it) to the poll that finds every partition committed. Once the
worker has stopped, a child process opens its engine and counts the rows, to check.
"""

from __future__ import annotations

import shutil
import statistics
import time
import uuid
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from bench.baseline import InsertSpec, insert_baseline, produce, worker_workload
from bench.config import WorkerSizes
from bench.data import Generator
from bench.lag import GroupLag, Progress
from bench.otlp_receiver import OtlpReceiver
from bench.processes import CpuUse, CpuWindow, Service, rss_mb
from bench.profiling import Profiler
from bench.stats import ratio, rounded
from bench.worker_multi import WORKERS, details, run_workers
from bench.workspace import BOOTSTRAP, Workspace
from runtime.clickhouse import ClickHouseTarget
from runtime.logs import configure_logging

SEED = 2
POLL_S = 0.05


def in_child(function: Any, *args: Any) -> Any:
    """Run ``function(*args)`` in a spawned process (one chdb engine path per process); the child is
    terminated if the bench is interrupted meanwhile."""
    with get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def count_rows(chdb_path: str) -> dict[str, int]:
    """Entry point of a spawned child: what the worker's engine holds."""
    configure_logging("console", "warning")
    client = ClickHouseTarget(f"chdb://{chdb_path}").connect()
    try:
        events, joined = client.query("SELECT count(), countIf(trace_joined) FROM feedback.events").result_rows[0]
        traces = client.query("SELECT count() FROM feedback.traces").result_rows[0][0]
        return {"events": int(events), "events_joined": int(joined), "traces": int(traces)}
    finally:
        client.close()


@dataclass
class WorkerRun:
    """One worker process draining the prefilled topics (its own group and engine)."""

    telemetry: bool
    complete: bool
    seconds: float
    events_done: int
    started_at: float
    end: float
    first_commit_after_s: float | None
    rss_at_start: float | None
    peak_rss_mb: float
    peak_anon_mb: float
    use: CpuUse | None
    backpressure: list[str]
    slow_paths: int
    rows_check: dict[str, int] | None

    @property
    def events_per_s(self) -> float | None:
        return self.events_done / self.seconds if self.seconds > 0 else None

    @property
    def cpu_us_per_event(self) -> float | None:
        if self.use is None or not self.events_done:
            return None
        return sum(self.use.by_thread.values()) / self.events_done * 1e6


def run_worker(
    ws: Workspace,
    sizes: WorkerSizes,
    topics: list[str],
    name: str,
    extra_env: dict[str, str],
    profiler: Profiler | None,
) -> WorkerRun:
    group = f"bench-worker-{uuid.uuid4().hex[:8]}"
    lag = GroupLag(BOOTSTRAP, group, topics)
    totals = lag.totals()
    engine = ws.root / name
    env = ws.env(
        FEEDBACK_CLICKHOUSE_URL=f"chdb://{engine}",
        FEEDBACK_LOG_LEVEL="info",
        FEEDBACK_BATCH_MAX_MESSAGES=str(sizes.batch),
        **extra_env,
    )
    service = Service("worker", ["worker", "--group", group], env)
    progress = Progress({}, totals)
    finished_at: float | None = None
    first_commit_at: float | None = None
    use: CpuUse | None = None
    rss_at_start: float | None = None
    try:
        service.start()
        service.wait_until(lambda: service.first_line_with("worker.assigned") is not None, 90, "assignment")
        rss_at_start = rss_mb(service.pid)
        window = CpuWindow(service.pid)
        window.begin()
        if profiler is not None:
            profiler.record(name, service.pid, sizes.timeout_s)
        deadline = time.monotonic() + sizes.timeout_s
        while time.monotonic() < deadline:
            progress = lag.progress()
            now = time.monotonic()
            if first_commit_at is None and any(progress.committed.values()):
                first_commit_at = now
            if progress.done():
                finished_at = now
                break
            service.sample_rss()
            if not service.alive():
                break
            time.sleep(POLL_S)
        use = window.end()
        service.sample_rss()
        if profiler is not None:
            profiler.stop()
    finally:
        service.stop()
        lag.delete_group()
    assigned_at = service.first_line_with("worker.assigned") or service.started_at
    checked = in_child(count_rows, str(engine)) if finished_at is not None else None
    shutil.rmtree(engine, ignore_errors=True)
    event_topics = [t for t in topics if not t.endswith("traces")]
    end = finished_at if finished_at is not None else time.monotonic()
    return WorkerRun(
        telemetry=bool(extra_env),
        complete=finished_at is not None,
        seconds=end - assigned_at,
        events_done=sizes.events if finished_at is not None else progress.of(*event_topics),
        started_at=service.started_at,
        end=end,
        first_commit_after_s=first_commit_at - assigned_at if first_commit_at else None,
        rss_at_start=rss_at_start,
        peak_rss_mb=service.peak_rss_mb,
        peak_anon_mb=service.peak_anon_mb,
        use=use,
        backpressure=[line for _, line in service.lines if "worker.backpressure" in line],
        slow_paths=sum(1 for _, line in service.lines if "worker.slow_path" in line),
        rows_check=checked,
    )


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def run(sizes: WorkerSizes, profiler: Profiler | None = None) -> dict[str, Any]:
    """The worker without telemetry, then with it (OTLP to a local receiver), alternated
    ``telemetry_rounds`` times over the same prefilled topics: the machine is shared and noisy, so
    the medians of each are compared."""
    with Workspace("worker") as ws, OtlpReceiver() as receiver:
        generator = Generator(SEED, run=ws.run_id)
        prefill = produce(ws.settings, worker_workload(generator, sizes.events))
        topics = [ws.settings.topic(kind) for kind in ("explicit", "implicit", "traces")]
        telemetry_env = {"FEEDBACK_OTEL_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        runs: list[WorkerRun] = []
        for round_ in range(max(1, sizes.telemetry_rounds)):
            runs.append(run_worker(ws, sizes, topics, f"worker-{round_}", {}, profiler if round_ == 0 else None))
            if sizes.telemetry_rounds:
                runs.append(run_worker(ws, sizes, topics, f"worker-{round_}-telemetry", telemetry_env, None))
        multi = run_workers(ws, sizes, topics, count_rows, in_child)
        spec = InsertSpec(str(ws.root / "baseline"), SEED, ws.run_id, generator.now_ms, sizes.events, sizes.batch)
        baseline = in_child(insert_baseline, spec)
        received = receiver.records

    off = [r for r in runs if not r.telemetry]
    on = [r for r in runs if r.telemetry]
    first = off[0]
    worker_rate = _median([r.events_per_s for r in off])
    baseline_rate = baseline["events"] / baseline["seconds"] if "error" not in baseline else None
    use = first.use
    return {
        "worker_events_per_s": rounded(worker_rate, 0),
        "baseline_insert_events_per_s": rounded(baseline_rate, 0),
        "worker_ratio": rounded(ratio(worker_rate, baseline_rate), 3),
        "worker_peak_rss_mb": rounded(max(r.peak_rss_mb for r in off), 1),
        "worker_telemetry_ratio": rounded(ratio(_median([r.events_per_s for r in on]), worker_rate), 3),
        "worker_multi_events_per_s": rounded(multi.events_per_s, 0),
        "worker_processes": WORKERS,
        "details": {
            "worker_multi": details(multi, worker_rate, sizes.events),
            "worker": {
                "complete": all(r.complete for r in runs),
                "events": sizes.events,
                "traces": prefill.traces,
                "messages_per_s": rounded((first.events_done + prefill.traces) / first.seconds, 0)
                if first.complete
                else None,
                "seconds_from_assignment": rounded(first.seconds, 3),
                "seconds_from_process_start": rounded(first.end - first.started_at, 3),
                "first_commit_after_s": rounded(first.first_commit_after_s, 3),
                "batch_max_messages": sizes.batch,
                "rss_at_assignment_mb": rounded(first.rss_at_start, 1),
                "peak_rss_anon_mb_sampled": rounded(first.peak_anon_mb, 1),
                "cpu_cores": rounded(use.cores, 2) if use else None,
                "cpu_by_thread": use.share() if use else None,
                "machine_cpu_busy": rounded(use.machine_busy, 3) if use else None,
                "other_cpu_cores": rounded(use.others(use.broker_cores), 2) if use else None,
                "broker_cpu_cores": rounded(use.broker_cores, 2) if use and use.broker_cores is not None else None,
                "rows_check": first.rows_check,
                "backpressure_retries": len(first.backpressure),
                "first_backpressure": first.backpressure[0][:600] if first.backpressure else None,
                "prefill_events_per_s": rounded(prefill.events_per_s, 0),
                "prefill_errors": prefill.errors,
            },
            "telemetry": {
                "exporter": "otlp (JSON over HTTP) to a local receiver in the bench process",
                "events_per_s_off": [rounded(r.events_per_s, 0) for r in off],
                "events_per_s_on": [rounded(r.events_per_s, 0) for r in on],
                "cpu_us_per_event_off": [rounded(r.cpu_us_per_event, 1) for r in off],
                "cpu_us_per_event_on": [rounded(r.cpu_us_per_event, 1) for r in on],
                "cpu_per_event_ratio": rounded(
                    ratio(_median([r.cpu_us_per_event for r in on]), _median([r.cpu_us_per_event for r in off])), 3
                ),
                # the sending thread is one of these (the kernel knows Python threads by the process's name)
                "other_python_thread_cores_on": [
                    r.use.share().get("other python threads") if r.use else None for r in on
                ],
                "rows_check_on": [r.rows_check for r in on],
                "records_received": received,
                "slow_path_batches": {"off": [r.slow_paths for r in off], "on": [r.slow_paths for r in on]},
            },
            "baseline_insert": {
                key: rounded(value, 3) if isinstance(value, float) else value for key, value in baseline.items()
            },
        },
    }
