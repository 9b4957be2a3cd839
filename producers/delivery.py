"""Hand records to Kafka and learn when every one is acknowledged (idempotent producer, acks=all).

A request's messages share one ``Acks`` counter; librdkafka's delivery reports count it down and
wake the request's coroutine once, when all have answered.

Where the reports are served matters for speed: confluent-kafka runs each report's Python callback
on the thread that polls, taking the GIL for it. Served by a thread of its own, every report is a
GIL hand-off with the event loop's thread, which is busy with the next requests (a hundred
hand-offs for a request of a hundred events). So while requests wait for acknowledgements, the
event loop itself polls (``_ReportPump``: ``poll(0)`` every ``POLL_INTERVAL_S``), and the callbacks
run between its tasks with no hand-off. The thread serves the reports only when no loop does:
when the collector is idle (librdkafka's logs and errors come through ``poll`` too) and while it
shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from producers.errors import Unavailable
from producers.metrics import PRODUCE_LATENCY

log = structlog.get_logger(__name__)

# How often an event loop with requests waiting polls for delivery reports: what it adds to a
# request's latency at most, against a wake-up per interval while requests wait.
POLL_INTERVAL_S = 0.001


@dataclass(slots=True)  # not frozen: a frozen dataclass costs three times as much to build, per message
class Outgoing:
    topic: str
    key: bytes
    value: bytes


class Acks:
    """Counts down the delivery reports of one request's messages."""

    __slots__ = ("_future", "_loop", "_loop_thread", "enqueued", "error", "remaining")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.enqueued = time.perf_counter()
        self._loop = loop
        self._loop_thread = threading.get_ident()  # created on the loop's thread, by ``enqueue``
        self._future: asyncio.Future[None] = loop.create_future()
        self.remaining = count
        self.error: KafkaError | None = None

    def on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        # Runs on whichever thread polls, one report at a time (polls never overlap: _Polling).
        if err is not None and self.error is None:
            self.error = err
        self.remaining -= 1
        if self.remaining:
            return
        if threading.get_ident() == self._loop_thread:
            self._settle()
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for this answer any more
            self._loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    async def wait(self, timeout_s: float) -> None:
        await asyncio.wait_for(asyncio.shield(self._future), timeout_s)


class _Polling:
    """One poll of the producer at a time, by the event loop or by the delivery thread: the
    reports' callbacks then never run concurrently (``Acks`` counts without a lock)."""

    def __init__(self, producer: Producer) -> None:
        self._producer = producer
        self._lock = threading.Lock()
        self.pumps = 0  # event loops polling now: the delivery thread stands down meanwhile

    def now(self) -> int:
        """Serve what is ready without waiting; 0 if the other poller holds the producer."""
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            return int(self._producer.poll(0))
        finally:
            self._lock.release()

    def waiting(self, timeout_s: float) -> None:
        with self._lock:
            self._producer.poll(timeout_s)

    def flush(self, timeout_s: float) -> int:
        with self._lock:
            return int(self._producer.flush(timeout_s))


class _ReportPump:
    """Polls for delivery reports on one event loop while requests of that loop wait for them."""

    def __init__(self, polling: _Polling, interval_s: float) -> None:
        self._polling = polling
        self._interval_s = interval_s
        self._waiting: set[Acks] = set()
        self._task: asyncio.Task[None] | None = None

    def watch(self, acks: Acks) -> None:
        self._waiting.add(acks)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="kafka-delivery-reports")

    def forget(self, acks: Acks) -> None:
        self._waiting.discard(acks)

    async def _run(self) -> None:
        self._polling.pumps += 1
        try:
            # A request forgets its Acks as soon as it resumes (``send``), so the set holds only
            # those still waiting, give or take one interval.
            while self._waiting:
                self._polling.now()
                await asyncio.sleep(self._interval_s)
        finally:
            self._polling.pumps -= 1


class DeliveryProducer:
    """One librdkafka producer for the process; delivery reports served by the event loop that
    waits for them, else by a thread of its own."""

    def __init__(
        self, config: dict[str, Any], timeout_s: float, retry_after_s: int, poll_interval_s: float = POLL_INTERVAL_S
    ) -> None:
        self._producer = Producer(config)
        self._timeout_s = timeout_s
        self._retry_after_s = retry_after_s
        self._polling = _Polling(self._producer)
        self._poll_interval_s = poll_interval_s
        self._pumps: dict[asyncio.AbstractEventLoop, _ReportPump] = {}
        self._running = True
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _poll_loop(self) -> None:
        while self._running:
            if self._polling.pumps:
                time.sleep(0.05)
            else:
                self._polling.waiting(0.05)

    def _pump(self, loop: asyncio.AbstractEventLoop) -> _ReportPump:
        pump = self._pumps.get(loop)
        if pump is None:
            for old in [old for old in self._pumps if old.is_closed()]:
                del self._pumps[old]
            pump = self._pumps[loop] = _ReportPump(self._polling, self._poll_interval_s)
        return pump

    def enqueue(self, messages: list[Outgoing]) -> Acks | None:
        """Hand every message to librdkafka now (``None``: there were none); ``acknowledged`` waits for
        them. Raises Unavailable (503) when librdkafka cannot take them all.

        Split from the wait so that a request keeps nothing of its items while Kafka answers: with
        32 requests waiting, their parsed, validated and encoded items held megabytes that each new
        request's work competed with for the CPU's caches."""
        if not messages:
            return None
        acks = Acks(asyncio.get_running_loop(), len(messages))
        produced = 0
        produce, on_delivery = self._producer.produce, acks.on_delivery
        try:
            for message in messages:
                produce(message.topic, message.value, message.key, on_delivery=on_delivery)
                produced += 1
        except (BufferError, KafkaException) as exc:
            log.warning("kafka.produce_refused", error=str(exc), produced=produced, total=len(messages))
            # Reports still come for what was queued; nothing is acknowledged to the client.
            raise Unavailable("Kafka cannot take events right now", retry_after=self._retry_after_s) from exc
        return acks

    async def acknowledged(self, acks: Acks | None) -> None:
        """Return once Kafka acknowledged every message of ``acks``; raise Unavailable (503) otherwise."""
        if acks is None:
            return
        pump = self._pump(asyncio.get_running_loop())
        pump.watch(acks)
        try:
            # librdkafka fails each message after message.timeout.ms; allow a little more here.
            await acks.wait(self._timeout_s + 2.0)
        except TimeoutError:
            raise Unavailable("Kafka did not acknowledge in time", retry_after=self._retry_after_s) from None
        finally:
            pump.forget(acks)
        if acks.error is not None:
            log.warning("kafka.delivery_failed", error=str(acks.error))
            raise Unavailable(f"Kafka did not accept the events ({acks.error.name()})", retry_after=self._retry_after_s)
        PRODUCE_LATENCY.observe(time.perf_counter() - acks.enqueued)

    async def send(self, messages: list[Outgoing]) -> None:
        """Return once Kafka acknowledged every message; raise Unavailable (503) otherwise."""
        await self.acknowledged(self.enqueue(messages))

    def reachable(self, timeout_s: float = 1.0) -> bool:
        try:
            self._producer.list_topics(timeout=timeout_s)
        except KafkaException:
            return False
        return True

    def close(self, timeout_s: float = 30.0) -> int:
        """Flush what is queued (requests still wait for those acks), then stop. Returns what is left."""
        self._running = False
        self._poller.join(timeout=2)
        left = self._polling.flush(timeout_s)
        if left:
            log.error("kafka.unflushed_on_close", messages=left)
        return left
