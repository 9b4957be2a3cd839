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
from urllib.parse import urlsplit

import httpx
import orjson
import uvloop

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
    uvloop.install()
    return asyncio.run(_closed_loop(spec, [_request(spec, body) for body in bodies]))


def _request(spec: LoadSpec, body: bytes) -> bytes:
    """A whole ``POST /v1/events`` request, bytes on the wire, built before the clock starts."""
    url = urlsplit(spec.url)
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {spec.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Read one HTTP/1.1 response (the collector always sends Content-Length): its status and the
    events it accepted."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length)
    return status, int(orjson.loads(body).get("accepted", 0)) if status == 202 else 0


async def _closed_loop(spec: LoadSpec, requests: list[bytes]) -> LoadResult:
    """Each of ``spec.concurrency`` keep-alive connections sends a request, reads its answer, and
    sends the next: a raw HTTP/1.1 loop (like wrk), so that the clients take little of the CPU the
    collector competes for (an httpx client took about a third of a core per 100 requests/s)."""
    result = LoadResult()
    measure_from = spec.start_at + spec.warmup_s
    until = measure_from + spec.duration_s
    cpu_marks: list[float] = []
    url = urlsplit(spec.url)

    async def mark_cpu() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
        cpu_marks.append(own_cpu_s())
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        cpu_marks.append(own_cpu_s())

    async def user(first: int) -> None:
        index = first
        reader = writer = None
        while (started := time.monotonic()) < until:
            request = requests[index % len(requests)]
            index += spec.concurrency
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(url.hostname, url.port)
                assert reader is not None
                writer.write(request)
                status, accepted = await asyncio.wait_for(_answer(reader), 30.0)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                status, accepted = -1, 0
                if writer is not None:
                    writer.close()
                reader = writer = None
            done = time.monotonic()
            if measure_from <= started and done <= until:
                result.requests += 1
                result.events += accepted
                result.statuses[status] = result.statuses.get(status, 0) + 1
                result.latencies_ms.append((done - started) * 1000)
        if writer is not None:
            writer.close()

    await asyncio.sleep(max(0.0, spec.start_at - time.monotonic()))
    await asyncio.gather(mark_cpu(), *(user(i) for i in range(spec.concurrency)))
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
