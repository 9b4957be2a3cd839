"""How big each stage runs (``--quick`` for a smoke test), and the targets the report shows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CollectorSizes:
    warmup_s: float
    duration_s: float
    concurrency: int  # requests in flight, over all client processes
    client_processes: int
    bodies_per_client: int  # distinct 100-event bodies each client cycles through
    batch_size: int
    baseline_events: int
    # Redaction off, then on (mask), alternated this many times per mix (PII-free, PII-laden), each
    # run this long after the warm-up: the machine is shared and noisy, so the sums are compared.
    redaction_rounds: int = 2
    redaction_duration_s: float = 8.0


@dataclass(frozen=True)
class WorkerSizes:
    events: int
    batch: int  # messages per insert in the baseline (the worker's FEEDBACK_BATCH_MAX_MESSAGES)
    timeout_s: float
    telemetry_rounds: int  # worker runs without, then with telemetry, alternated this many times


@dataclass(frozen=True)
class FreshnessSizes:
    events_per_s: int
    batch_size: int
    duration_s: float
    poll_interval_s: float
    drain_timeout_s: float


@dataclass(frozen=True)
class DashboardSizes:
    events: int  # in the database when the dashboard's queries are timed
    seed_events: int  # made by bench.data; the rest are copies made in SQL
    copies_per_insert: int
    runs: int  # timed runs per view (the median is reported), after one warm-up


@dataclass(frozen=True)
class FailoverSizes:
    warmup_s: float  # steady load before the kill
    accepted_after: int  # 202s after the kill that end the run
    timeout_s: float  # no more than this after the kill
    threads: int  # client loops, one request in flight each
    batch: int  # events per request


@dataclass(frozen=True)
class Sizes:
    collector: CollectorSizes
    worker: WorkerSizes
    freshness: FreshnessSizes
    export_events: tuple[int, ...]  # feedback exported, small then large: the peak memory should not grow
    alert_seeds: int  # seeded simulation runs per alert scenario
    dashboard: DashboardSizes = DashboardSizes(events=10_000_000, seed_events=40_000, copies_per_insert=25, runs=3)
    failover: FailoverSizes = FailoverSizes(warmup_s=5, accepted_after=50, timeout_s=90, threads=4, batch=50)


FULL = Sizes(
    collector=CollectorSizes(
        warmup_s=3, duration_s=20, concurrency=32, client_processes=2, bodies_per_client=400,
        batch_size=100, baseline_events=200_000,
    ),
    worker=WorkerSizes(events=200_000, batch=20_000, timeout_s=120, telemetry_rounds=3),
    freshness=FreshnessSizes(
        events_per_s=5000, batch_size=100, duration_s=25, poll_interval_s=0.05, drain_timeout_s=20
    ),
    export_events=(100_000, 1_000_000),
    alert_seeds=100,
)  # fmt: skip

QUICK = Sizes(
    collector=CollectorSizes(
        warmup_s=1, duration_s=5, concurrency=16, client_processes=1, bodies_per_client=100,
        batch_size=100, baseline_events=30_000, redaction_rounds=1, redaction_duration_s=3,
    ),
    worker=WorkerSizes(events=20_000, batch=5000, timeout_s=45, telemetry_rounds=1),
    freshness=FreshnessSizes(
        events_per_s=5000, batch_size=100, duration_s=6, poll_interval_s=0.05, drain_timeout_s=10
    ),
    export_events=(20_000, 200_000),
    alert_seeds=10,
    dashboard=DashboardSizes(events=1_000_000, seed_events=20_000, copies_per_insert=25, runs=3),
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    bound: float
    higher_is_better: bool

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.bound if self.higher_is_better else value <= self.bound

    def describe(self) -> str:
        return f"{'≥' if self.higher_is_better else '≤'} {self.bound:,g}"


TARGETS = (
    Target("collector_events_per_s", "collector events/s", 25_000, True),
    Target("collector_ratio", "collector / baseline", 0.7, True),
    Target("collector_redaction_ratio", "collector redaction on / off, PII-laden", 0.85, True),
    Target("collector_redaction_clean_ratio", "collector redaction on / off, PII-free", 0.85, True),
    Target("worker_events_per_s", "worker events/s", 60_000, True),
    Target("worker_ratio", "worker / baseline", 0.5, True),
    Target("worker_telemetry_ratio", "worker with / without telemetry", 0.9, True),
    Target("freshness_p99_ms", "freshness p99 ms", 2_000, False),
    Target("collector_peak_rss_mb", "collector peak RSS MB", 300, False),
    Target("worker_peak_rss_mb", "worker peak RSS MB", 300, False),
    Target("export_rss_ratio", "export peak RSS, large / small", 1.25, False),
    Target("dashboard_slowest_view_ms", "slowest dashboard view ms", 1_000, False),
    Target("broker_failover_gap_s", "seconds without a 202 after a broker's kill -9", 10, False),
)
