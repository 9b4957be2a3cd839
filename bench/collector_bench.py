"""Stage 1: ``feedback collector`` with one process, then with one per core (``--processes N``), HTTP
in 100-event batches → Kafka ack; and the same events validated, encoded and produced in-process
(no HTTP) as the baseline.

Load: 32 requests in flight over 2 spawned client processes (httpx.AsyncClient, bodies built
before the clock starts). At 8, 16, 32 and 64 in flight the throughput stayed within ~10% while
the latency grew in proportion (Little's law): the collector's main thread is CPU-bound, and the
clients need about a third of a core (``client_cpu_cores`` in the details) of the two.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.baseline import produce
from bench.config import CollectorSizes
from bench.data import Generator
from bench.load import LoadResult, run_closed_loop
from bench.processes import CpuUse, CpuWindow, Service, listening_sockets, sleep_until, tree_cpu_s
from bench.profiling import Profiler
from bench.stats import percentile, ratio, rounded
from bench.workspace import KEYS, Workspace
from feedback.collector_processes import available_cores

SEED = 1
UNUSED_SERVER = "http://127.0.0.1:1"


@dataclass
class Measured:
    """One closed-loop run against ``feedback collector --processes N``."""

    processes: int
    load: LoadResult
    use: CpuUse | None  # per thread, one process only
    tree_cores: float | None  # the collector's processes together
    machine_busy: float | None
    peak_rss_mb: float
    peak_anon_mb: float


def measure(ws: Workspace, sizes: CollectorSizes, processes: int, profiler: Profiler | None) -> Measured:
    # Several processes cannot share the embedded engine that the read endpoints open; the bench
    # never reads, so a ClickHouse server URL where nothing listens is enough.
    env = ws.env(FEEDBACK_CLICKHOUSE_URL=UNUSED_SERVER) if processes > 1 else ws.env()
    service = Service("collector", ["collector", "--processes", str(processes)], env)
    port = int(ws.http_addr.rsplit(":", 1)[1])
    cpu: list[CpuUse] = []
    tree: list[float] = []
    try:
        service.start()
        # Every process must have bound the port before the clients connect (their connections stay
        # with the process that accepted them).
        service.wait_until(lambda: listening_sockets(port) >= processes, 240, f"{processes} processes listening")
        service.wait_http(f"{ws.base_url}/readyz")
        start_at = time.monotonic() + 5.0  # client processes spawn and build bodies meanwhile
        measure_from = start_at + sizes.warmup_s
        window = CpuWindow(service.pid)

        def watch() -> None:
            sleep_until(measure_from)
            window.begin()
            tree_before = tree_cpu_s(service.pid)
            if profiler is not None:
                profiler.record("collector", service.pid, sizes.duration_s)
            while time.monotonic() < measure_from + sizes.duration_s:
                service.sample_rss()
                time.sleep(0.25)
            cpu.append(window.end())
            tree.append((tree_cpu_s(service.pid) - tree_before) / sizes.duration_s)

        watcher = threading.Thread(target=watch, name="collector-watch", daemon=True)
        watcher.start()
        load = run_closed_loop(
            ws.base_url,
            KEYS["public"],
            processes=sizes.client_processes,
            concurrency=sizes.concurrency,
            warmup_s=sizes.warmup_s,
            duration_s=sizes.duration_s,
            bodies=sizes.bodies_per_client,
            batch_size=sizes.batch_size,
            seed=SEED,
            run=ws.run_id,
            start_at=start_at,
        )
        watcher.join(30)
        service.sample_rss()
        if profiler is not None:
            profiler.wait()  # before the process goes away
    finally:
        service.stop(60)
    use = cpu[0] if cpu else None
    return Measured(
        processes,
        load,
        use if processes == 1 else None,
        tree[0] if tree else None,
        use.machine_busy if use else None,
        service.peak_rss_mb,
        service.peak_anon_mb,
    )


def run(sizes: CollectorSizes, profiler: Profiler | None = None) -> dict[str, Any]:
    cores = available_cores()
    with Workspace("collector") as ws:
        single = measure(ws, sizes, 1, profiler)
        multi = measure(ws, sizes, cores, None) if cores > 1 else None

        # Baseline: the first client's bodies, as parsed items, cycled to the same order of size.
        generator = Generator(SEED, run=f"{ws.run_id}p0")
        pool = generator.event_batches(sizes.bodies_per_client, sizes.batch_size)
        batches = sizes.baseline_events // sizes.batch_size
        baseline = produce(
            ws.settings, (("event", items) for items in itertools.islice(itertools.cycle(pool), batches))
        )

    load = single.load
    collector_rate = load.events / sizes.duration_s
    multi_rate = multi.load.events / sizes.duration_s if multi else None
    use = single.use
    collector_cpu_us = use.cores * sizes.duration_s / load.events * 1e6 if use and load.events else None
    baseline_cpu_us = baseline.cpu_s / baseline.events * 1e6 if baseline.events else None
    return {
        "collector_events_per_s": rounded(collector_rate, 0),
        "collector_p50_ms": rounded(percentile(load.latencies_ms, 50), 2),
        "collector_p99_ms": rounded(percentile(load.latencies_ms, 99), 2),
        "baseline_produce_events_per_s": rounded(baseline.events_per_s, 0),
        "collector_ratio": rounded(ratio(collector_rate, baseline.events_per_s), 3),
        "collector_multi_events_per_s": rounded(multi_rate, 0),
        "collector_processes": cores,
        "collector_peak_rss_mb": rounded(single.peak_rss_mb, 1),
        # CPU per event, in-process baseline ÷ collector (its process, all threads; not the
        # clients): what the ratio would be with a core each, whatever else runs on the machine.
        "collector_cpu_ratio": rounded(ratio(baseline_cpu_us, collector_cpu_us), 3),
        "details": {
            "collector": {
                "peak_rss_anon_mb_sampled": rounded(single.peak_anon_mb, 1),
                "requests": load.requests,
                "events": load.events,
                "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
                "measured_s": sizes.duration_s,
                "concurrency": sizes.concurrency,
                "client_processes": sizes.client_processes,
                "client_cpu_cores": rounded(load.cpu_s / sizes.duration_s, 2),
                "collector_cpu_cores": rounded(use.cores, 2) if use else None,
                "collector_cpu_by_thread": use.share() if use else None,
                "machine_cpu_busy": rounded(use.machine_busy, 3) if use else None,
                "other_cpu_cores": rounded(use.others(use.broker_cores, load.cpu_s / sizes.duration_s), 2)
                if use
                else None,
                "broker_cpu_cores": rounded(use.broker_cores, 2) if use and use.broker_cores is not None else None,
            },
            "collector_multi": _multi_details(multi, collector_rate, sizes) if multi else None,
            "cpu_us_per_event": {
                "collector": rounded(collector_cpu_us, 2),
                "baseline": rounded(baseline_cpu_us, 2),
                "collector_processes_together": rounded(
                    multi.tree_cores * sizes.duration_s / multi.load.events * 1e6, 2
                )
                if multi and multi.tree_cores and multi.load.events
                else None,
            },
            "baseline_produce": {
                "events": baseline.events,
                "errors": baseline.errors,
                "seconds": rounded(baseline.seconds, 3),
            },
        },
    }


def _multi_details(multi: Measured, single_rate: float, sizes: CollectorSizes) -> dict[str, Any]:
    load = multi.load
    rate = load.events / sizes.duration_s
    return {
        "processes": multi.processes,
        "speedup_over_one_process": rounded(ratio(rate, single_rate), 3),
        "p50_ms": rounded(percentile(load.latencies_ms, 50), 2),
        "p99_ms": rounded(percentile(load.latencies_ms, 99), 2),
        "requests": load.requests,
        "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "collector_cpu_cores_all_processes": rounded(multi.tree_cores, 2),
        "client_cpu_cores": rounded(load.cpu_s / sizes.duration_s, 2),
        "machine_cpu_busy": rounded(multi.machine_busy, 3),
        "note": "the same clients and load as the one-process run, right after it; on a machine with as many "
        "cores as processes the clients and the broker share them, so the speedup is below N",
    }
