"""Stage 2, second part: two ``feedback worker`` processes in one consumer group draining the same
prefilled topics as the one-worker runs.

The embedded engine (chdb) is one process's and cannot be shared by two processes on one data
dir, so each worker here writes its own engine: that is what two processes can do on this
machine without a ClickHouse server, and it measures what the second process adds (Kafka
fetching, decoding, the batch's statements) with each engine doing half the writes. With a
ClickHouse server both would write to one database (``FEEDBACK_CLICKHOUSE_URL=http://...``).

The two processes start together but join the group when their imports are done, so the first may
run alone for a while, and the group rebalances when the second joins (range assignment: both
are given partitions anew). The clock therefore starts when the group is stable — the latest
assignments of the two cover every partition once — and counts what was committed from then on.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.config import WorkerSizes
from bench.lag import GroupLag
from bench.processes import Service, ServiceFailed, process_cpu_s
from bench.stats import rounded
from bench.workspace import BOOTSTRAP, Workspace

POLL_S = 0.05
WORKERS = 2


def latest_assignment(service: Service) -> set[str] | None:
    """The partitions of the worker's last ``worker.assigned`` line (JSON logs), if any."""
    for _, line in reversed(service.lines):
        if "worker.assigned" not in line:
            continue
        try:
            return set(json.loads(line)["partitions"])
        except (ValueError, KeyError):
            return None
    return None


def stable(services: list[Service], partitions: int) -> bool:
    """Every partition is assigned to exactly one of the workers."""
    assignments = [latest_assignment(service) for service in services]
    if any(a is None for a in assignments):
        return False
    union: set[str] = set()
    total = 0
    for assignment in assignments:
        assert assignment is not None
        union |= assignment
        total += len(assignment)
    return len(union) == partitions and total == partitions


@dataclass
class MultiRun:
    complete: bool
    messages_measured: int  # events and traces committed after the clock started
    event_share: float  # of all the messages in the topics
    seconds: float
    waited_for_stable_s: float
    cpu_cores: float | None
    rows_check: list[dict[str, int]] | None

    @property
    def events_per_s(self) -> float | None:
        """Messages per second at the workload's mix of events and traces, counted as events/s like
        the one-worker runs (whose time also covers the traces): the first worker may have done
        more of the traces than of the events before the clock started."""
        if not self.complete or self.seconds <= 0:
            return None
        return self.messages_measured / self.seconds * self.event_share


def _wait_assigned(service: Service) -> None:
    service.wait_until(lambda: latest_assignment(service) is not None, 120, "assignment")


def run_workers(ws: Workspace, sizes: WorkerSizes, topics: list[str], count_rows: Any, in_child: Any) -> MultiRun:
    group = f"bench-workers-{uuid.uuid4().hex[:8]}"
    lag = GroupLag(BOOTSTRAP, group, topics)
    event_topics = [t for t in topics if not t.endswith("traces")]
    totals = lag.totals()
    messages = sum(totals.values())
    engines = [ws.root / f"workers-{i}" for i in range(WORKERS)]
    services = [
        Service(
            f"worker-{i}",
            ["worker", "--group", group],
            ws.env(
                FEEDBACK_CLICKHOUSE_URL=f"chdb://{engine}",
                FEEDBACK_LOG_LEVEL="info",
                FEEDBACK_BATCH_MAX_MESSAGES=str(sizes.batch),
            ),
        )
        for i, engine in enumerate(engines)
    ]
    complete = False
    started = time.monotonic()
    t0 = end = started
    done_at_t0 = 0
    cpu_before = cpu_after = 0.0
    try:
        for service in services:
            service.start()
        for service in services:
            _wait_assigned(service)
        deadline = time.monotonic() + sizes.timeout_s
        while not stable(services, len(lag.partitions)) and time.monotonic() < deadline:
            dead = [service.name for service in services if not service.alive()]
            if dead:
                raise ServiceFailed(f"{dead[0]} exited before the group was stable")
            time.sleep(POLL_S)
        t0 = time.monotonic()
        done_at_t0 = lag.progress().of(*topics)
        cpu_before = sum(process_cpu_s(s.pid) for s in services)
        while time.monotonic() < deadline:
            progress = lag.progress()
            if progress.done():
                complete = True
                break
            if not all(s.alive() for s in services):
                break
            time.sleep(POLL_S)
        end = time.monotonic()
        cpu_after = sum(process_cpu_s(s.pid) for s in services)
    finally:
        for service in services:
            service.stop()
        lag.delete_group()
    checks = [in_child(count_rows, str(engine)) for engine in engines] if complete else None
    for engine in engines:
        shutil.rmtree(engine, ignore_errors=True)
    seconds = end - t0
    return MultiRun(
        complete=complete,
        messages_measured=messages - done_at_t0,
        event_share=sum(totals[t] for t in event_topics) / messages if messages else 0.0,
        seconds=seconds,
        waited_for_stable_s=t0 - started,
        cpu_cores=(cpu_after - cpu_before) / seconds if seconds > 0 else None,
        rows_check=checks,
    )


def details(run: MultiRun, single_rate: float | None, events: int) -> dict[str, Any]:
    stored = sum(check["events"] for check in run.rows_check) if run.rows_check else None
    return {
        "processes": WORKERS,
        "complete": run.complete,
        "messages_measured": run.messages_measured,
        "measured_s": rounded(run.seconds, 3),
        "from_start_to_stable_group_s": rounded(run.waited_for_stable_s, 3),
        "speedup_over_one_worker": rounded(run.events_per_s / single_rate, 3)
        if run.events_per_s and single_rate
        else None,
        "cpu_cores_both_workers": rounded(run.cpu_cores, 2),
        "rows_check": run.rows_check,
        "events_stored_in_both_engines": stored,
        "events_sent": events,
        "storage": "each worker writes its own embedded engine (chdb: one process per data dir, no server "
        "here); with a ClickHouse server both write one database",
    }
