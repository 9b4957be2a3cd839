"""The dashboard's queries over many events (``python -m bench --only dashboard``).

Seed: the worker bench's realistic events and traces (``bench.data`` through the baseline's
row path, ``insert_baseline``), then copied in SQL until the database holds the target number of
events: each copy gets new ids, two tenants alternate, and the copies spread back over 30 days
(a new prompt version in the last third), so every range of the dashboard has data. Then every
``/v1/stats`` view is timed through the same code the collector runs (``quality.dashboard_stats.Stats`` on
``ReadOnlyQueries`` sessions), as the admin and as one tenant's analyst, for 24 hours, 7 and 30
days: the median of a few runs after one warm-up.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.baseline import InsertSpec, insert_baseline
from bench.config import DashboardSizes
from bench.data import TENANT
from bench.workspace import Workspace
from quality.dashboard_stats import Stats
from runtime.clickhouse import ClickHouseTarget
from runtime.migrations import migrate
from runtime.readonly_query import ADMIN, QueryError, ReadOnlyQueries, ReadScope

SPREAD_S = 30 * 86400
OTHER_TENANT = f"{TENANT}-2"


def _copy_sql(table: str, time_columns: tuple[str, ...], first: int, last: int, copies: int) -> str:
    """Copies ``first..last`` of the seed rows (kept aside in ``bench_seed``): new ids, alternating
    tenants, times moved back, a new prompt version in the most recent third."""
    shift = f"toIntervalSecond(n.number * {SPREAD_S // copies})"
    ids = ("trace_id", "conversation_id", "message_id") + (("event_id",) if table == "events_log" else ())
    replaced = [f"concat({c}, '-', toString(n.number)) AS {c}" for c in ids]
    replaced += [f"{c} - {shift} AS {c}" for c in time_columns]
    replaced.append(f"if(n.number % 2 = 0, '{TENANT}', '{OTHER_TENANT}') AS tenant_id")
    replaced.append(f"if(n.number < {copies // 3}, 'v9', prompt_version) AS prompt_version")
    return (
        f"INSERT INTO feedback.{table} SELECT s.* REPLACE ({', '.join(replaced)}) "
        f"FROM bench_seed.{table} AS s, numbers({first}, {last - first + 1}) AS n"
    )


def seed(path: str, sizes: DashboardSizes) -> dict[str, Any]:
    started = time.perf_counter()
    now_ms = int(time.time() * 1000)
    spec = InsertSpec(path, seed=7, run="d", now_ms=now_ms, events=sizes.seed_events, batch=20_000)
    seeded = insert_baseline(spec)
    if "error" in seeded:
        raise RuntimeError(f"seed insert failed: {seeded['error']}")
    copies = max(1, sizes.events // int(seeded["events"]))
    client = ClickHouseTarget(f"chdb://{path}").connect(database="feedback")
    try:
        client.command("CREATE DATABASE IF NOT EXISTS bench_seed")
        for table in ("events_log", "traces_log"):
            client.command(f"CREATE TABLE bench_seed.{table} ENGINE = Memory AS SELECT * FROM feedback.{table}")
        for first in range(1, copies, sizes.copies_per_insert):
            last = min(copies - 1, first + sizes.copies_per_insert - 1)
            client.command(_copy_sql("traces_log", ("timestamp", "received_at"), first, last, copies))
            client.command(_copy_sql("events_log", ("timestamp", "received_at", "ts"), first, last, copies))
        client.command("DROP DATABASE bench_seed")
        events = int(client.query("SELECT sum(sign) FROM events_log").result_rows[0][0])
        traces = int(client.query("SELECT sum(sign) FROM traces_log").result_rows[0][0])
    finally:
        client.close()
    return {"events": events, "traces": traces, "copies": copies, "seed_s": round(time.perf_counter() - started, 1)}


def _reuse(path: str) -> dict[str, Any]:
    """A kept engine: its pending migrations applied first (the queries read what they add, such as
    the worst-responses projection; a migration that materializes one takes minutes at 10M)."""
    client = ClickHouseTarget(f"chdb://{path}").connect(database="feedback")
    try:
        applied = [m.version for m in migrate(client, "feedback")]
        return {"events": int(client.query("SELECT sum(sign) FROM events_log").result_rows[0][0]), "migrated": applied}
    finally:
        client.close()


def _timed(call: Any, runs: int) -> float | str:
    """The median milliseconds of ``runs`` calls after a warm-up; or what failed."""
    try:
        call()  # warm-up: caches, the analyst session's table list
    except QueryError as exc:
        return f"failed: {exc}"
    samples = []
    for _ in range(runs):
        mark = time.perf_counter()
        call()
        samples.append(time.perf_counter() - mark)
    return statistics.median(samples) * 1000


def measure(path: str, sizes: DashboardSizes) -> dict[str, Any]:
    queries = ReadOnlyQueries(ClickHouseTarget(f"chdb://{path}"), "feedback")
    stats = Stats(queries.select)
    any_thumb = "SELECT message_id, trace_id FROM events_log WHERE type = 'thumbs' AND tenant_id = {t:String} LIMIT 1"
    message, trace = queries.select(any_thumb, {"t": TENANT}, ADMIN).result_rows[0]
    # what the page asks when a response is opened from the list
    opened = {"message_id": str(message), "trace_id": str(trace), "tenant": TENANT}
    timings: dict[str, float | str] = {}
    try:
        for scope_name, scope in (("admin", ADMIN), ("analyst", ReadScope(TENANT))):
            for span in ("24h", "7d", "30d"):
                for view in ("filters", "quality", "reasons", "signals", "alerts", "responses"):
                    params = {"from": span}
                    timings[f"{scope_name}/{span}/{view}"] = _timed(
                        lambda view=view, params=params, scope=scope: stats.view(view, params, scope), sizes.runs
                    )
            timings[f"{scope_name}/health"] = _timed(lambda scope=scope: stats.view("health", {}, scope), sizes.runs)
            timings[f"{scope_name}/response"] = _timed(
                lambda scope=scope: stats.view("response", opened, scope), sizes.runs
            )
    finally:
        queries.close()
    return timings


def run(sizes: DashboardSizes) -> dict[str, Any]:
    """``FEEDBACK_BENCH_DASHBOARD_DB=PATH`` keeps the seeded engine at PATH (and reuses it when it
    is there already): seeding 10M events takes minutes."""
    kept = os.environ.get("FEEDBACK_BENCH_DASHBOARD_DB")
    if kept and Path(kept).exists():
        seeded = {**_reuse(kept), "reused": kept}
        timings = measure(kept, sizes)
    elif kept:
        seeded = seed(kept, sizes)
        timings = measure(kept, sizes)
    else:
        with Workspace("dashboard") as ws:
            path = str(ws.root / "clickhouse")
            seeded = seed(path, sizes)
            timings = measure(path, sizes)
    failed = {key: value for key, value in timings.items() if isinstance(value, str)}
    times = {key: value for key, value in timings.items() if not isinstance(value, str)}
    slowest = max(times, key=lambda key: times[key])
    # a page load runs filters, quality, reasons, signals, alerts, health and responses
    views = ("filters", "quality", "reasons", "signals", "alerts", "responses")
    page = {
        f"{scope}/{span}": sum(times.get(f"{scope}/{span}/{v}", 0.0) for v in views) + times[f"{scope}/health"]
        for scope in ("admin", "analyst")
        for span in ("24h", "7d", "30d")
    }
    return {
        "dashboard_events": seeded["events"],
        "dashboard_slowest_view_ms": round(times[slowest], 1) if not failed else None,
        "dashboard_slowest_page_ms": round(max(page.values()), 1),
        "details": {
            "dashboard": {
                **seeded,
                "slowest_view": slowest,
                "views_ms": {key: round(value, 1) for key, value in times.items()},
                "failed": failed,
                "page_ms": {key: round(value, 1) for key, value in page.items()},
            }
        },
    }
