"""Stage 1: ``feedback collector`` with one process, then with one per core (``--processes N``), HTTP
in 100-event batches → Kafka ack; and the same events validated, encoded and produced in-process
(no HTTP) as the baseline, once before and once after the collector's runs (summed).

Load: 32 requests in flight over 2 spawned client processes, each a raw HTTP/1.1 keep-alive loop
(like wrk: requests built before the clock starts, the answer's status and ``accepted`` read back),
so the clients take ~0.02 of a core (``client_cpu_cores`` in the details); an httpx client took
0.3-0.55 of the 2 cores the collector competes for. At 8, 16, 32 and 64 in flight the throughput
stayed within ~10% while the latency grew in proportion (Little's law): the collector's main
thread is CPU-bound.

Redaction (docs/contract.md, "Redaction") is on in that run, as it is by default. Its cost is measured
apart: the collector with a policy file of ``off``, then of ``mask``, alternated, on a PII-free
and a PII-laden mix (``bench.data.PII``); ``collector_redaction_ratio`` is on ÷ off for the PII-laden
one, ``collector_redaction_clean_ratio`` for the PII-free one. The details add what redaction costs
per event in-process, without HTTP, which is steadier on a busy machine.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.baseline import ProduceResult, produce
from bench.config import CollectorSizes
from bench.data import TENANT, Generator
from bench.load import LoadResult, run_closed_loop
from bench.processes import CpuUse, CpuWindow, Service, listening_sockets, sleep_until, tree_cpu_s
from bench.profiling import Profiler
from bench.stats import percentile, ratio, rounded
from bench.workspace import KEYS, Workspace
from feedback.collector_processes import available_cores
from producers.intake import accept_events
from producers.record_redaction import RecordRedaction
from producers.redaction import Redactor
from producers.redaction_policy import TenantPolicies

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


def clients(
    ws: Workspace, sizes: CollectorSizes, duration_s: float, seed: int, run: str, start_at: float, pii: bool = False
) -> LoadResult:
    """The bench's closed-loop clients against the collector, sized by ``sizes``."""
    return run_closed_loop(
        ws.base_url,
        KEYS["public"],
        processes=sizes.client_processes,
        concurrency=sizes.concurrency,
        warmup_s=sizes.warmup_s,
        duration_s=duration_s,
        bodies=sizes.bodies_per_client,
        batch_size=sizes.batch_size,
        seed=seed,
        run=run,
        start_at=start_at,
        pii=pii,
    )


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
        load = clients(ws, sizes, sizes.duration_s, SEED, ws.run_id, start_at)
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


def in_process_baseline(ws: Workspace, sizes: CollectorSizes) -> ProduceResult:
    """The first client's bodies, as parsed items, cycled to the same order of size, validated,
    encoded and produced in this process."""
    generator = Generator(SEED, run=f"{ws.run_id}p0")
    pool = generator.event_batches(sizes.bodies_per_client, sizes.batch_size)
    batches = sizes.baseline_events // sizes.batch_size
    return produce(ws.settings, (("event", items) for items in itertools.islice(itertools.cycle(pool), batches)))


def run(sizes: CollectorSizes, profiler: Profiler | None = None) -> dict[str, Any]:
    cores = available_cores()
    with Workspace("collector") as ws:
        # The baseline before and after the collector's runs, summed: the broker has warmed up
        # (its JIT took up to half a core in the first minute after a start) for both sides.
        before = in_process_baseline(ws, sizes)
        single = measure(ws, sizes, 1, profiler)
        multi = measure(ws, sizes, cores, None) if cores > 1 else None
        after = in_process_baseline(ws, sizes)
        baseline = ProduceResult(
            before.events + after.events,
            before.traces + after.traces,
            before.errors + after.errors,
            before.seconds + after.seconds,
            before.cpu_s + after.cpu_s,
        )
        redaction = redaction_runs(ws, sizes)

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
        "collector_redaction_ratio": redaction["pii"]["ratio"],
        "collector_redaction_clean_ratio": redaction["clean"]["ratio"],
        "details": {
            "collector_redaction": redaction,
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
                "events_per_s_before_and_after": [rounded(before.events_per_s, 0), rounded(after.events_per_s, 0)],
            },
        },
    }


def redaction_runs(ws: Workspace, sizes: CollectorSizes) -> dict[str, Any]:
    """Redaction off, then on (mask), per mix, alternated ``redaction_rounds`` times. The ratio is
    of events per CPU-second of the collector, on ÷ off: the collector is CPU-bound, and on a shared
    machine its wall-clock rate swings with the neighbours' load far more than its CPU per event
    (the wall-clock rates are in the details too)."""
    policies = {}
    for mode in ("off", "mask"):
        policies[mode] = ws.root / f"redaction-{mode}.json"
        policies[mode].write_text(json.dumps({"default": mode}))
    events = {(mix, mode): 0 for mix in ("clean", "pii") for mode in policies}
    cpu_s = dict.fromkeys(events, 0.0)
    for round_ in range(max(1, sizes.redaction_rounds)):
        for mix in ("clean", "pii"):
            for mode, policy in policies.items():
                env = ws.env(FEEDBACK_REDACTION_POLICY_FILE=str(policy))
                count, cpu = _measured_run(ws, sizes, env, mix == "pii", f"{ws.run_id}r{round_}{mix}{mode}", round_)
                events[mix, mode] += count
                cpu_s[mix, mode] += cpu
    seconds = max(1, sizes.redaction_rounds) * sizes.redaction_duration_s
    out: dict[str, Any] = {}
    for mix in ("clean", "pii"):
        off, on = (events[mix, mode] / cpu_s[mix, mode] if cpu_s[mix, mode] else 0.0 for mode in ("off", "mask"))
        out[mix] = {
            "ratio": rounded(ratio(on, off), 3),
            "off_events_per_cpu_s": rounded(off, 0),
            "mask_events_per_cpu_s": rounded(on, 0),
            "wall_clock_ratio": rounded(ratio(events[mix, "mask"], events[mix, "off"]), 3),
            "off_events_per_s": rounded(events[mix, "off"] / seconds, 0),
            "mask_events_per_s": rounded(events[mix, "mask"] / seconds, 0),
            "in_process_us_per_event": rounded(in_process_cost_us(mix == "pii", sizes.batch_size), 2),
        }
    out["rounds"] = {"count": max(1, sizes.redaction_rounds), "measured_s_each": sizes.redaction_duration_s}
    return out


def _measured_run(
    ws: Workspace, sizes: CollectorSizes, env: dict[str, str], pii: bool, run: str, round_: int
) -> tuple[int, float]:
    """One collector under the closed loop: events accepted in the measured window and the CPU
    seconds the collector spent in it."""
    service = Service("collector-redaction", ["collector"], env)
    cpu: list[CpuUse] = []
    try:
        service.start()
        service.wait_http(f"{ws.base_url}/readyz")
        start_at = time.monotonic() + 5.0
        measure_from = start_at + sizes.warmup_s
        window = CpuWindow(service.pid)

        def watch() -> None:
            sleep_until(measure_from)
            window.begin()
            sleep_until(measure_from + sizes.redaction_duration_s)
            cpu.append(window.end())

        watcher = threading.Thread(target=watch, name="redaction-watch", daemon=True)
        watcher.start()
        load = clients(ws, sizes, sizes.redaction_duration_s, SEED + round_, run, start_at, pii)
        watcher.join(30)
    finally:
        service.stop()
    return load.events, sum(cpu[0].by_thread.values()) if cpu else 0.0


def in_process_cost_us(pii: bool, batch_size: int, batches: int = 50) -> float:
    """What masking costs per event of the mix, in this process: the records of ``batches`` bodies
    redacted as the collector does (validation and encoding not counted)."""
    redaction = RecordRedaction(TenantPolicies(), Redactor())
    generator = Generator(SEED, run="in-process", pii=pii)
    spent = 0.0
    count = 0
    for items in generator.event_batches(batches, batch_size):
        records = accept_events(items, None, TENANT, generator.now_ms).records
        started = time.perf_counter()
        redaction.records("event", records)
        spent += time.perf_counter() - started
        count += len(records)
    return spent / count * 1e6 if count else 0.0


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
