"""HTTP load: a closed loop (N concurrent requests, as fast as the collector answers) spread over
client processes, and an open loop (a steady request rate) for the freshness run.

Bodies are built before the clock starts, so the client's cost is HTTP and nothing else;
each client process measures its own CPU so the report can tell whether the client was the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing import get_context

import httpx
import orjson

from bench.data import Generator, events_body
from bench.processes import own_cpu_s


@dataclass(frozen=True)
class LoadSpec:
    url: str
    key: str
    seed: int
    run: str
    bodies: int  # distinct bodies per client process, cycled (the collector does not dedupe)
    batch_size: int
    concurrency: int
    start_at: float  # time.monotonic() (system-wide on Linux) when the warm-up starts
    warmup_s: float
    duration_s: float
    pii: bool = False  # the PII-laden mix (bench.data.PII)


@dataclass
class LoadResult:
    requests: int = 0
    events: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0  # client CPU during the measured window

    def merge(self, other: LoadResult) -> None:
        self.requests += other.requests
        self.events += other.events
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.latencies_ms.extend(other.latencies_ms)
        self.cpu_s += other.cpu_s


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def accepted_of(response: httpx.Response) -> int:
    if response.status_code != 202:
        return 0
    return int(orjson.loads(response.content).get("accepted", 0))


def closed_loop(spec: LoadSpec) -> LoadResult:
    """One client process's share of the load (the entry point of a spawned child)."""
    generator = Generator(spec.seed, run=spec.run, pii=spec.pii)
    bodies = [events_body(batch) for batch in generator.event_batches(spec.bodies, spec.batch_size)]
    return asyncio.run(_closed_loop(spec, bodies))


async def _closed_loop(spec: LoadSpec, bodies: list[bytes]) -> LoadResult:
    result = LoadResult()
    measure_from = spec.start_at + spec.warmup_s
    until = measure_from + spec.duration_s
    cpu_marks: list[float] = []

    async def mark_cpu() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
        cpu_marks.append(own_cpu_s())
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        cpu_marks.append(own_cpu_s())

    async def user(client: httpx.AsyncClient, first: int) -> None:
        index = first
        while (started := time.monotonic()) < until:
            body = bodies[index % len(bodies)]
            index += spec.concurrency
            try:
                response = await client.post("/v1/events", content=body)
                status, accepted = response.status_code, accepted_of(response)
            except httpx.HTTPError:
                status, accepted = -1, 0
            done = time.monotonic()
            if measure_from <= started and done <= until:
                result.requests += 1
                result.events += accepted
                result.statuses[status] = result.statuses.get(status, 0) + 1
                result.latencies_ms.append((done - started) * 1000)

    limits = httpx.Limits(max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency)
    async with httpx.AsyncClient(base_url=spec.url, headers=headers(spec.key), limits=limits, timeout=30.0) as client:
        await asyncio.sleep(max(0.0, spec.start_at - time.monotonic()))
        await asyncio.gather(mark_cpu(), *(user(client, i) for i in range(spec.concurrency)))
    result.cpu_s = cpu_marks[1] - cpu_marks[0] if len(cpu_marks) == 2 else 0.0
    return result


def run_closed_loop(
    url: str,
    key: str,
    *,
    processes: int,
    concurrency: int,
    warmup_s: float,
    duration_s: float,
    bodies: int,
    batch_size: int,
    seed: int,
    run: str,
    start_at: float,
    pii: bool = False,
) -> LoadResult:
    """``concurrency`` requests in flight in total, over ``processes`` spawned client processes, from
    ``start_at`` (monotonic; leave the children a few seconds to start and build their bodies)."""
    share = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    specs = [
        LoadSpec(url, key, seed + i, f"{run}p{i}", bodies, batch_size, share[i], start_at, warmup_s, duration_s, pii)
        for i in range(processes)
    ]
    total = LoadResult()
    with get_context("spawn").Pool(processes) as pool:  # terminated on the way out, even on Ctrl-C
        for part in pool.map(closed_loop, specs):
            total.merge(part)
    return total


@dataclass
class Sent:
    """One request of the open loop: when it went out and when (if ever) its 202 came back."""

    index: int
    events: int
    sent_at: float
    answered_at: float | None = None
    status: int | None = None
    accepted: int = 0


async def open_loop(
    client: httpx.AsyncClient,
    bodies: list[tuple[int, bytes]],
    requests_per_s: float,
    on_answer: Callable[[Sent], Awaitable[None] | None] | None = None,
    max_in_flight: int = 256,
    sent: list[Sent] | None = None,
) -> list[Sent]:
    """Send ``bodies`` (event count, body) at a steady rate; a slow collector makes requests pile up
    (up to ``max_in_flight``), it does not slow the schedule down. Each request is appended to
    ``sent`` as it goes out (so others can watch it)."""
    sent = [] if sent is None else sent
    slots = asyncio.Semaphore(max_in_flight)

    async def one(record: Sent, body: bytes) -> None:
        try:
            response = await client.post("/v1/events", content=body)
            record.status, record.accepted = response.status_code, accepted_of(response)
        except httpx.HTTPError:
            record.status = -1
        finally:
            slots.release()
        record.answered_at = time.monotonic()
        if on_answer is not None:
            outcome = on_answer(record)
            if outcome is not None:
                await outcome

    tasks = []
    start = time.monotonic()
    for index, (events, body) in enumerate(bodies):
        await asyncio.sleep(max(0.0, start + index / requests_per_s - time.monotonic()))
        await slots.acquire()
        record = Sent(index, events, time.monotonic())
        sent.append(record)
        tasks.append(asyncio.create_task(one(record, body)))
    await asyncio.gather(*tasks)
    return sent
