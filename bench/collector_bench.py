"""Stage 1: one ``feedback collector`` process, HTTP in 100-event batches → Kafka ack; and the same
events validated, encoded and produced in-process (no HTTP) as the baseline.

Load: 32 requests in flight over 2 spawned client processes (httpx.AsyncClient, bodies built
before the clock starts). At 8, 16, 32 and 64 in flight the throughput stayed within ~10% while
the latency grew in proportion (Little's law): the collector's main thread is CPU-bound, and the
clients need about a third of a core (``client_cpu_cores`` in the details) of the two.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from bench.baseline import produce
from bench.config import CollectorSizes
from bench.data import Generator
from bench.load import run_closed_loop
from bench.processes import CpuUse, CpuWindow, Service, sleep_until
from bench.profiling import Profiler
from bench.stats import percentile, ratio, rounded
from bench.workspace import KEYS, Workspace

SEED = 1


def run(sizes: CollectorSizes, profiler: Profiler | None = None) -> dict[str, Any]:
    with Workspace("collector") as ws:
        service = Service("collector", ["collector"], ws.env())
        try:
            service.start()
            service.wait_http(f"{ws.base_url}/readyz")
            start_at = time.monotonic() + 5.0  # client processes spawn and build bodies meanwhile
            measure_from = start_at + sizes.warmup_s
            window = CpuWindow(service.pid)
            cpu: list[CpuUse] = []

            def watch() -> None:
                sleep_until(measure_from)
                window.begin()
                if profiler is not None:
                    profiler.record("collector", service.pid, sizes.duration_s)
                while time.monotonic() < measure_from + sizes.duration_s:
                    service.sample_rss()
                    time.sleep(0.25)
                cpu.append(window.end())

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
            service.stop()

        # Baseline: the first client's bodies, as parsed items, cycled to the same order of size.
        generator = Generator(SEED, run=f"{ws.run_id}p0")
        pool = generator.event_batches(sizes.bodies_per_client, sizes.batch_size)
        batches = sizes.baseline_events // sizes.batch_size
        baseline = produce(
            ws.settings, (("event", items) for items in itertools.islice(itertools.cycle(pool), batches))
        )

    collector_rate = load.events / sizes.duration_s
    use = cpu[0] if cpu else None
    return {
        "collector_events_per_s": rounded(collector_rate, 0),
        "collector_p50_ms": rounded(percentile(load.latencies_ms, 50), 2),
        "collector_p99_ms": rounded(percentile(load.latencies_ms, 99), 2),
        "baseline_produce_events_per_s": rounded(baseline.events_per_s, 0),
        "collector_ratio": rounded(ratio(collector_rate, baseline.events_per_s), 3),
        "collector_peak_rss_mb": rounded(service.peak_rss_mb, 1),
        "details": {
            "collector": {
                "peak_rss_anon_mb_sampled": rounded(service.peak_anon_mb, 1),
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
            "baseline_produce": {
                "events": baseline.events,
                "errors": baseline.errors,
                "seconds": rounded(baseline.seconds, 3),
            },
        },
    }
