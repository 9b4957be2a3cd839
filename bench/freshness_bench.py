"""Stage 3: freshness — from a request's 202 to its events being queryable in ``feedback.events`` —
at a steady rate, with the collector and a worker running (``feedback up`` as one subprocess).

Method: every request carries a marker in ``session_id`` (``fb00000042`` = request 42). While the
sender runs, a poller asks the pipeline (``POST /v1/query``, admin key) every ``poll_interval_s``
for ``count()`` per marker from the oldest request not yet fully visible. When a request's count
grows from a to b in the answer received at time t, (b - a) of its events became visible at or
before t: their freshness is t - (that request's 202 time). So each event is timed, and the
error is at most one poll period plus one query round trip (both reported), always on the
late side: the numbers are upper bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.config import FreshnessSizes
from bench.data import Generator, events_body
from bench.load import Sent, headers, open_loop
from bench.processes import CpuUse, CpuWindow, Service
from bench.stats import percentile, rounded, weighted_percentile
from bench.workspace import KEYS, Workspace

SEED = 3
MARKER = "fb"


def marker(index: int) -> str:
    return f"{MARKER}{index:08d}"


@dataclass
class Visibility:
    """What the poller saw: per request, how many of its events were visible, and when."""

    seen: dict[int, int] = field(default_factory=dict)
    appeared: dict[int, list[tuple[float, int]]] = field(default_factory=dict)
    poll_rtt_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def record(self, index: int, count: int, at: float) -> None:
        before = self.seen.get(index, 0)
        if count > before:
            self.seen[index] = count
            self.appeared.setdefault(index, []).append((at, count - before))


class Poller:
    """Asks the pipeline, every ``interval_s``, how many events of each pending request it has;
    ``drained`` is set once the sender is done and every accepted event was seen."""

    def __init__(self, client: httpx.AsyncClient, sent: list[Sent], interval_s: float) -> None:
        self.client = client
        self.sent = sent
        self.interval_s = interval_s
        self.visibility = Visibility()
        self.sender_done = False
        self.drained = asyncio.Event()
        self.stop = asyncio.Event()

    async def run(self) -> None:
        admin = headers(KEYS["admin"])
        oldest = 0
        while not self.stop.is_set():
            while oldest < len(self.sent) and _complete(self.sent[oldest], self.visibility):
                oldest += 1
            if oldest == len(self.sent) and self.sender_done:
                self.drained.set()
                return
            if oldest < len(self.sent):
                await self._poll(admin, oldest)
            await asyncio.sleep(self.interval_s)

    async def _poll(self, admin: dict[str, str], oldest: int) -> None:
        sql = (
            "SELECT session_id, count() FROM feedback.events "
            f"WHERE tenant_id = 'bench' AND session_id >= '{marker(oldest)}' GROUP BY session_id"
        )
        started = time.monotonic()
        try:
            response = await self.client.post("/v1/query", json={"sql": sql}, headers=admin)
            answered = time.monotonic()
            response.raise_for_status()
            for session, count in response.json()["rows"]:
                self.visibility.record(int(session[len(MARKER) :]), int(count), answered)
            self.visibility.poll_rtt_ms.append((answered - started) * 1000)
        except (httpx.HTTPError, KeyError, ValueError):
            self.visibility.errors += 1


def _complete(request: Sent, visibility: Visibility) -> bool:
    if request.answered_at is None:
        return False
    return request.status != 202 or visibility.seen.get(request.index, 0) >= request.accepted


async def _drive(url: str, bodies: list[bytes], sizes: FreshnessSizes) -> tuple[list[Sent], Visibility, float]:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    public = headers(KEYS["public"])
    async with httpx.AsyncClient(base_url=url, headers=public, limits=limits, timeout=30) as client:
        sent: list[Sent] = []
        poller = Poller(client, sent, sizes.poll_interval_s)
        polling = asyncio.create_task(poller.run())
        started = time.monotonic()
        requests_per_s = sizes.events_per_s / sizes.batch_size
        await open_loop(client, [(sizes.batch_size, body) for body in bodies], requests_per_s, sent=sent)
        send_s = time.monotonic() - started
        poller.sender_done = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(poller.drained.wait(), sizes.drain_timeout_s)
        poller.stop.set()
        await polling
    return sent, poller.visibility, send_s


def make_bodies(sizes: FreshnessSizes, run: str) -> list[bytes]:
    """Every request's events carry its marker; ids are unique (the worker dedupes)."""
    generator = Generator(SEED, run=run)
    requests = int(sizes.events_per_s * sizes.duration_s / sizes.batch_size)
    size = sizes.batch_size
    return [
        events_body([generator.event(i * size + j, session_id=marker(i)) for j in range(size)]) for i in range(requests)
    ]


def _sample_rss(service: Service, done: threading.Event) -> None:
    while not done.wait(0.25):
        service.sample_rss()


def run(sizes: FreshnessSizes) -> dict[str, Any]:
    with Workspace("freshness") as ws:
        bodies = make_bodies(sizes, ws.run_id)
        env = ws.env(FEEDBACK_CLICKHOUSE_URL=ws.chdb_url("pipeline"), FEEDBACK_LOG_LEVEL="info")
        service = Service("pipeline", ["up"], env)
        use: CpuUse | None = None
        try:
            service.start()
            service.wait_http(f"{ws.base_url}/readyz", 90)
            service.wait_until(lambda: service.first_line_with("worker.assigned") is not None, 60, "worker assignment")
            window = CpuWindow(service.pid)
            window.begin()
            done = threading.Event()
            sampler = threading.Thread(target=_sample_rss, args=(service, done), daemon=True)
            sampler.start()
            try:
                sent, visibility, send_s = asyncio.run(_drive(ws.base_url, bodies, sizes))
            finally:
                done.set()
                sampler.join(5)
            use = window.end()
            service.sample_rss()
        finally:
            service.stop()

    accepted = [r for r in sent if r.status == 202 and r.answered_at is not None]
    pairs: list[tuple[float, int]] = []
    for request in accepted:
        assert request.answered_at is not None
        for at, count in visibility.appeared.get(request.index, []):
            pairs.append((max(0.0, at - request.answered_at) * 1000, count))
    events_accepted = sum(r.accepted for r in accepted)
    events_visible = sum(count for _, count in pairs)
    ack_ms = [(r.answered_at - r.sent_at) * 1000 for r in accepted if r.answered_at is not None]
    statuses: dict[str, int] = {}
    for request in sent:
        statuses[str(request.status)] = statuses.get(str(request.status), 0) + 1
    return {
        "freshness_p50_ms": rounded(weighted_percentile(pairs, 50), 1),
        "freshness_p99_ms": rounded(weighted_percentile(pairs, 99), 1),
        "details": {
            "freshness": {
                "target_events_per_s": sizes.events_per_s,
                "sent_events_per_s": rounded(events_accepted / send_s, 0) if send_s else None,
                "seconds": rounded(send_s, 2),
                "events_accepted": events_accepted,
                "events_visible": events_visible,
                "statuses": statuses,
                "freshness_max_ms": rounded(max((ms for ms, _ in pairs), default=0.0), 1),
                "ack_p50_ms": rounded(percentile(ack_ms, 50), 2),
                "ack_p99_ms": rounded(percentile(ack_ms, 99), 2),
                "poll_interval_ms": sizes.poll_interval_s * 1000,
                "poll_rtt_p50_ms": rounded(percentile(visibility.poll_rtt_ms, 50), 2),
                "poll_rtt_p99_ms": rounded(percentile(visibility.poll_rtt_ms, 99), 2),
                "polls": len(visibility.poll_rtt_ms),
                "poll_errors": visibility.errors,
                "pipeline_peak_rss_mb": rounded(service.peak_rss_mb, 1),
                "pipeline_peak_rss_anon_mb_sampled": rounded(service.peak_anon_mb, 1),
                "pipeline_cpu_cores": rounded(use.cores, 2) if use else None,
                "pipeline_cpu_by_thread": use.share() if use else None,
                "machine_cpu_busy": rounded(use.machine_busy, 3) if use else None,
                "other_cpu_cores": rounded(use.others(use.broker_cores), 2) if use else None,
                "broker_cpu_cores": rounded(use.broker_cores, 2) if use and use.broker_cores is not None else None,
            }
        },
    }
