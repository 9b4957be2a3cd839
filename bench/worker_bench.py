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

import time
import uuid
from multiprocessing import get_context
from typing import Any

from bench.baseline import InsertSpec, insert_baseline, produce, worker_workload
from bench.config import WorkerSizes
from bench.data import Generator
from bench.lag import GroupLag, Progress
from bench.processes import CpuUse, CpuWindow, Service, rss_mb
from bench.profiling import Profiler
from bench.stats import ratio, rounded
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


def run(sizes: WorkerSizes, profiler: Profiler | None = None) -> dict[str, Any]:
    with Workspace("worker") as ws:
        generator = Generator(SEED, run=ws.run_id)
        prefill = produce(ws.settings, worker_workload(generator, sizes.events))
        topics = [ws.settings.topic(kind) for kind in ("explicit", "implicit", "traces")]
        group = f"bench-worker-{uuid.uuid4().hex[:8]}"
        lag = GroupLag(BOOTSTRAP, group, topics)
        totals = lag.totals()
        engine = ws.root / "worker"
        env = ws.env(
            FEEDBACK_CLICKHOUSE_URL=f"chdb://{engine}",
            FEEDBACK_LOG_LEVEL="info",
            FEEDBACK_BATCH_MAX_MESSAGES=str(sizes.batch),
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
                profiler.record("worker", service.pid, sizes.timeout_s)
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
        spec = InsertSpec(str(ws.root / "baseline"), SEED, ws.run_id, generator.now_ms, sizes.events, sizes.batch)
        baseline = in_child(insert_baseline, spec)

    event_topics = [t for t in topics if not t.endswith("traces")]
    end = finished_at if finished_at is not None else time.monotonic()
    seconds = end - assigned_at
    events_done = sizes.events if finished_at is not None else progress.of(*event_topics)
    worker_rate = events_done / seconds if seconds > 0 else None
    baseline_rate = baseline["events"] / baseline["seconds"] if "error" not in baseline else None
    backpressure = [line for _, line in service.lines if "worker.backpressure" in line]
    return {
        "worker_events_per_s": rounded(worker_rate, 0),
        "baseline_insert_events_per_s": rounded(baseline_rate, 0),
        "worker_ratio": rounded(ratio(worker_rate, baseline_rate), 3),
        "worker_peak_rss_mb": rounded(service.peak_rss_mb, 1),
        "details": {
            "worker": {
                "complete": finished_at is not None,
                "events": sizes.events,
                "traces": prefill.traces,
                "messages_per_s": rounded((events_done + prefill.traces) / seconds, 0) if finished_at else None,
                "seconds_from_assignment": rounded(seconds, 3),
                "seconds_from_process_start": rounded(end - service.started_at, 3),
                "first_commit_after_s": rounded(first_commit_at - assigned_at, 3) if first_commit_at else None,
                "batch_max_messages": sizes.batch,
                "rss_at_assignment_mb": rounded(rss_at_start, 1),
                "peak_rss_anon_mb_sampled": rounded(service.peak_anon_mb, 1),
                "cpu_cores": rounded(use.cores, 2) if use else None,
                "cpu_by_thread": use.share() if use else None,
                "machine_cpu_busy": rounded(use.machine_busy, 3) if use else None,
                "other_cpu_cores": rounded(use.others(use.broker_cores), 2) if use else None,
                "broker_cpu_cores": rounded(use.broker_cores, 2) if use and use.broker_cores is not None else None,
                "rows_check": checked,
                "backpressure_retries": len(backpressure),
                "first_backpressure": backpressure[0][:600] if backpressure else None,
                "prefill_events_per_s": rounded(prefill.events_per_s, 0),
                "prefill_errors": prefill.errors,
            },
            "baseline_insert": {
                key: rounded(value, 3) if isinstance(value, float) else value for key, value in baseline.items()
            },
        },
    }
