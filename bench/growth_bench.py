"""``make bench-growth``: does the cost stay flat as history grows? (issue 20)

One engine is grown step by step to each size of ``FEEDBACK_BENCH_GROWTH_SIZES`` (events of history,
with their traces; ``bench.growth_history`` loads them through the worker's own statements). At each
size, with the engine's background merges running as they would:

- a ``feedback worker`` process drains a fresh stream from Kafka (the worker bench's realistic
  events and traces, plus resends of 3% of the events and one trace in 20 arriving after its events):
  events/s from its assignment to the last commit, and the p99 of its batches' durations (its
  ``worker.batch`` debug lines);
- then a child process opens the engine and times the README's analyst queries, a
  ``ratings_current`` lookup for one message and for one user, and every dashboard view
  (``bench.dashboard_bench.measure``): the median of a few runs after a warm-up.

The engine is kept (``FEEDBACK_BENCH_GROWTH_DB``, default ``.data/bench-growth/clickhouse``) and the
load resumes where it stopped: loading 50M events takes a long while on two shared cores.
Writes ``bench/growth.json`` and prints a table.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.baseline import produce
from bench.config import DashboardSizes
from bench.dashboard_bench import measure as measure_dashboard
from bench.data import EVENTS_PER_TRACE, Generator
from bench.growth_history import History, load
from bench.lag import GroupLag
from bench.processes import Service, tree_cpu_s
from bench.stats import percentile, ratio, rounded
from bench.worker_bench import in_child
from bench.workspace import BOOTSTRAP, Workspace
from runtime.clickhouse import ClickHouseTarget
from runtime.logs import configure_logging
from runtime.readonly_query import ADMIN, ReadOnlyQueries

RESULTS = Path(__file__).with_name("growth.json")
DEFAULT_SIZES = (0, 10_000_000, 50_000_000)
SPAN_DAYS = 30.0  # the largest size spans this much time: smaller sizes are its most recent part
RESEND_EVERY = 33  # one event in this many is sent twice (a client retry)
LATE_TRACE_EVERY = 20  # one trace in this many arrives after its events
CHUNK = 1_000_000
QUERY_RUNS = 3

# The README's analyst queries (section "Query"), as written there; {message} and {user} are one of
# the history's messages and raters.
README_QUERIES = {
    "readme_down_rate_by_version": "SELECT toDate(hour) AS day, model_version, "
    "sum(thumbs_down) / nullIf(sum(thumbs_up + thumbs_down), 0) AS down_rate "
    "FROM quality_hourly GROUP BY day, model_version ORDER BY day",
    "readme_hallucinated_by_prompt": "SELECT prompt_version, sum(opinions) AS hallucinated "
    "FROM reasons_hourly WHERE reason = 'hallucinated' GROUP BY prompt_version ORDER BY hallucinated DESC",
    "readme_tool_failures_punished": "SELECT tool_failed, latency_s >= 5 AS slow, "
    "sum(thumbs_down) / sum(thumbs) AS down_rate, sum(thumbs) AS thumbed "
    "FROM thumbs_hourly WHERE trace_joined GROUP BY tool_failed, slow",
    "ratings_current_one_message": "SELECT rater_kind, rater, thumb, reasons, rating FROM ratings_current "
    "WHERE message_id = '{message}'",
}
LOOKUPS = {
    # the same question over ``events`` (the README's query before thumbs_hourly): what FINAL costs
    "events_tool_failures_punished": "SELECT tool_failed, latency_ms >= 5000 AS slow, "
    "avg(thumb = 'down') AS down_rate, count() FROM events WHERE type = 'thumbs' AND trace_joined "
    "GROUP BY tool_failed, slow",
    "ratings_current_one_user": "SELECT message_id, thumb, rating FROM ratings_current "
    "WHERE tenant_id = '{tenant}' AND rater_kind = 'user' AND rater = '{user}'",
}


class RandomIds(Generator):
    """The worker bench's data with ids as a real backend makes them (random hex, like OTel trace ids
    and UUIDs), not sequential: a batch's lookups by trace or message id then spread over the whole
    key range of the tables, as they would in production. Every id is of its run: each stream is new."""

    def _hex(self, kind: str, index: int) -> str:
        return hashlib.blake2b(f"{self.run}/{kind}/{index}".encode(), digest_size=16).hexdigest()

    def trace_id(self, trace_index: int) -> str:
        return self._hex("t", trace_index)

    def message_id(self, trace_index: int) -> str:
        return self._hex("m", trace_index)

    def event(self, index: int, **fields: Any) -> dict[str, Any]:
        # the base generator draws event ids from its seed: a second stream into the same engine
        # within the hour would be all resends, stored once, and measure nothing but the dedupe
        return super().event(index, event_id=self._hex("e", index), **fields)


def sizes_from_env() -> tuple[int, ...]:
    raw = os.environ.get("FEEDBACK_BENCH_GROWTH_SIZES")
    if not raw:
        return DEFAULT_SIZES
    return tuple(sorted(int(float(part)) for part in raw.split(",") if part.strip()))


def fresh_workload(generator: Generator, events: int, chunk: int = 600) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Like ``bench.baseline.worker_workload``, plus resends and late traces: a chunk's traces (but the
    late ones), its events, the resends of some of them, then the previous chunk's late traces."""
    late: list[dict[str, Any]] = []
    for start in range(0, events, chunk):
        count = min(chunk, events - start)
        first, last = start // EVENTS_PER_TRACE, (start + count - 1) // EVENTS_PER_TRACE
        traces = [generator.trace(t) for t in range(first, last + 1)]
        yield "trace", [t for i, t in enumerate(traces, first) if i % LATE_TRACE_EVERY]
        batch = [generator.event(start + i) for i in range(count)]
        yield "event", batch
        yield "event", batch[::RESEND_EVERY]
        if late:
            yield "trace", late
        late = [t for i, t in enumerate(traces, first) if not i % LATE_TRACE_EVERY]
    if late:
        yield "trace", late


def drain(ws: Workspace, engine: Path, events: int, timeout_s: float) -> dict[str, Any]:
    """A worker drains the workspace's topics into ``engine``: events/s and batch latencies."""
    topics = [ws.settings.topic(kind) for kind in ("explicit", "implicit", "traces")]
    group = f"bench-growth-{uuid.uuid4().hex[:8]}"
    lag = GroupLag(BOOTSTRAP, group, topics)
    env = ws.env(
        FEEDBACK_CLICKHOUSE_URL=f"chdb://{engine}",
        FEEDBACK_LOG_LEVEL="debug",
        FEEDBACK_QUALITY_INTERVAL_S="0",
    )
    service = Service("worker", ["worker", "--group", group], env)
    finished_at: float | None = None
    cpu_s = 0.0
    try:
        service.start()
        service.wait_until(lambda: service.first_line_with("worker.assigned") is not None, 300, "assignment")
        cpu_at_start = tree_cpu_s(service.pid)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if lag.progress().done():
                finished_at = time.monotonic()
                cpu_s = tree_cpu_s(service.pid) - cpu_at_start
                break
            if not service.alive():
                break
            time.sleep(0.05)
    finally:
        service.stop(120)
        lag.delete_group()
    assigned = service.first_line_with("worker.assigned") or service.started_at
    batches = []
    for _, line in service.lines:
        if '"worker.batch"' in line:
            record = json.loads(line)
            batches.append((float(record["seconds"]), int(record["messages"])))
    seconds = (finished_at or time.monotonic()) - assigned
    return {
        "complete": finished_at is not None,
        "events_per_s": events / seconds if finished_at is not None else None,
        # the worker's own CPU (its ClickHouse engine's merges included), steadier than the clock
        # on a shared machine
        "events_per_cpu_s": events / cpu_s if finished_at is not None and cpu_s > 0 else None,
        "cpu_s": round(cpu_s, 1),
        "seconds": seconds,
        "batches": len(batches),
        "batch_p50_ms": rounded(percentile([s * 1000 for s, _ in batches], 50)),
        "batch_p99_ms": rounded(percentile([s * 1000 for s, _ in batches], 99)),
        "slow_paths": sum(1 for _, line in service.lines if "worker.slow_path" in line),
        "backpressure": sum(1 for _, line in service.lines if "worker.backpressure" in line),
    }


def _median_ms(client: Any, sql: str, runs: int) -> float:
    client.query(sql)  # warm-up
    samples = []
    for _ in range(runs):
        mark = time.perf_counter()
        client.query(sql)
        samples.append(time.perf_counter() - mark)
    return statistics.median(samples) * 1000


def time_queries(engine: str, history_events: int, runs: int, dashboard: bool) -> dict[str, Any]:
    """Entry point of a spawned child: every query's median ms on the engine."""
    configure_logging("console", "warning")
    queries = ReadOnlyQueries(ClickHouseTarget(f"chdb://{engine}"), "feedback")
    timings: dict[str, Any] = {}
    try:
        picked = queries.select(
            "SELECT tenant_id, message_id, rater FROM ratings_current WHERE rater_kind = 'user' LIMIT 1", {}, ADMIN
        ).result_rows
        tenant, message, user = picked[0] if picked else ("bench", "none", "none")
        values = {"message": message, "user": user, "tenant": tenant}

        class _Admin:
            def query(self, sql: str) -> Any:
                return queries.select(sql, {}, ADMIN)

        admin = _Admin()
        for name, sql in {**README_QUERIES, **LOOKUPS}.items():
            timings[name] = round(_median_ms(admin, sql.format(**values), runs), 1)
        if dashboard:
            sizes = DashboardSizes(events=history_events, seed_events=0, copies_per_insert=0, runs=runs)
            for key, value in measure_dashboard(engine, sizes).items():
                timings[f"dashboard:{key}"] = round(value, 1) if isinstance(value, float) else value
        events = queries.select("SELECT count() FROM events_log", {}, ADMIN).result_rows[0][0]
        parts = queries.select(
            "SELECT table, count() FROM system.parts WHERE active AND database = 'feedback' GROUP BY table", {}, ADMIN
        ).result_rows
        timings["_events_log_rows"] = int(events)
        timings["_active_parts"] = {str(t): int(n) for t, n in parts}
    finally:
        queries.close()
    return timings


def _previous() -> dict[str, Any]:
    """What an earlier run wrote: sizes are measured one or a few at a time (``FEEDBACK_BENCH_GROWTH_SIZES``)
    and merged, since the large ones take long to load."""
    try:
        previous: dict[str, Any] = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}
    return previous


@contextmanager
def measured_copy(engine: Path) -> Iterator[Path]:
    """A copy of ``engine`` to measure on, removed afterwards. The fresh stream lands in the current
    hours, which the next run's lookups read too: three runs within one hour on the kept engine
    measured 9,416, 8,750 and 8,580 events/s at 50M, each slower for the streams before it. So the
    kept engine holds the loaded history alone, and every run measures the same history."""
    copy = engine.with_name(f"{engine.name}.measuring")
    shutil.rmtree(copy, ignore_errors=True)
    if engine.exists():
        shutil.copytree(engine, copy, symlinks=True)
    try:
        yield copy
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def measure_size(
    console: Console, size: int, engine: Path, history: History, settings: dict[str, Any]
) -> dict[str, Any]:
    """Grow ``engine`` to ``size`` events of history, then measure the worker and the queries."""
    console.print(f"[bold]history {size:,}[/] …")
    loaded = in_child(load, str(engine), size, history, CHUNK)
    load_avg = [round(x, 2) for x in os.getloadavg()]
    with Workspace("growth") as ws, measured_copy(engine) as measured:
        generator = RandomIds(seed=size % 1000 + 3, run=f"g{ws.run_id}")
        produced = produce(ws.settings, fresh_workload(generator, settings["stream"]))
        worker = drain(ws, measured, produced.events, timeout_s=900)
        console.print(f"  worker {worker}")
        timings = in_child(time_queries, str(measured), size, settings["runs"], settings["dashboard"])
    return {
        "worker_events_per_s": rounded(worker["events_per_s"], 0),
        "worker_batch_p99_ms": worker["batch_p99_ms"],
        "query_ms": {name: value for name, value in timings.items() if not name.startswith("_")},
        "details": {
            "history": loaded,
            "load_avg_before_stream": load_avg,
            "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            "stream_events_produced": produced.events,
            "stream_traces_produced": produced.traces,
            "worker": worker,
            "events_log_rows": timings.get("_events_log_rows"),
            "active_parts": timings.get("_active_parts"),
        },
    }


def run(console: Console) -> dict[str, Any]:
    sizes = sizes_from_env()
    engine = Path(os.environ.get("FEEDBACK_BENCH_GROWTH_DB", ".data/bench-growth/clickhouse")).resolve()
    engine.parent.mkdir(parents=True, exist_ok=True)
    settings = {
        "stream": int(os.environ.get("FEEDBACK_BENCH_GROWTH_STREAM", "300000")),
        "dashboard": os.environ.get("FEEDBACK_BENCH_GROWTH_DASHBOARD", "1") != "0",
        "runs": int(os.environ.get("FEEDBACK_BENCH_GROWTH_RUNS", str(QUERY_RUNS))),
    }
    # history spans SPAN_DAYS at the largest default size: every size is the most recent part of it
    history = History.spanning(max(*DEFAULT_SIZES, *sizes), SPAN_DAYS)
    results = _previous()
    for key in ("worker_events_per_s", "worker_batch_p99_ms", "query_ms", "details"):
        results.setdefault(key, {})
    for size in sizes:
        if size == 0:  # an empty engine of its own: the kept one holds history already
            with tempfile.TemporaryDirectory(prefix="feedback-growth-0-") as empty:
                measured = measure_size(console, 0, Path(empty) / "clickhouse", history, settings)
        else:
            measured = measure_size(console, size, engine, history, settings)
        key = str(size)
        results["worker_events_per_s"][key] = measured["worker_events_per_s"]
        results["worker_batch_p99_ms"][key] = measured["worker_batch_p99_ms"]
        for name, value in measured["query_ms"].items():
            results["query_ms"].setdefault(name, {})[key] = value
        results["details"][key] = measured["details"]
    measured_sizes = sorted(int(key) for key in results["worker_events_per_s"])
    results["sizes"] = measured_sizes
    smallest, largest = str(measured_sizes[0]), str(measured_sizes[-1])
    results["worker_growth_ratio"] = rounded(
        ratio(results["worker_events_per_s"][largest], results["worker_events_per_s"][smallest]), 3
    )
    results["machine"] = {"cpus": os.cpu_count(), "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]}
    return results


def table(results: dict[str, Any]) -> Table:
    sizes = [str(s) for s in results["sizes"]]
    out = Table(title=f"growth (worker_growth_ratio {results['worker_growth_ratio']})")
    out.add_column("metric")
    for size in sizes:
        out.add_column(f"{int(size):,}", justify="right")
    out.add_row("worker events/s", *[str(results["worker_events_per_s"].get(s)) for s in sizes])
    out.add_row("worker batch p99 ms", *[str(results["worker_batch_p99_ms"].get(s)) for s in sizes])
    for name, by_size in results["query_ms"].items():
        out.add_row(f"{name} ms", *[str(by_size.get(s)) for s in sizes])
    return out


def main() -> int:
    configure_logging("console", "warning")
    console = Console()
    console.print(f"load average at start: {[round(x, 2) for x in os.getloadavg()]}")
    results = run(console)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    console.print(table(results))
    console.print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
