"""Hand records to Kafka and learn when every one is acknowledged (idempotent producer, acks=all).

A request's messages share one ``Acks`` counter; librdkafka's delivery reports (run by a
poll thread) count it down and wake the request's coroutine once, when all have answered.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from producers.errors import Unavailable
from producers.metrics import PRODUCE_LATENCY

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes
    value: bytes


class Acks:
    """Counts down the delivery reports of one request's messages."""

    __slots__ = ("_future", "_loop", "error", "remaining")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()
        self.remaining = count
        self.error: KafkaError | None = None

    def on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        # Runs on the poll thread, one report at a time.
        if err is not None and self.error is None:
            self.error = err
        self.remaining -= 1
        if self.remaining == 0:
            self._loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    async def wait(self, timeout_s: float) -> None:
        await asyncio.wait_for(asyncio.shield(self._future), timeout_s)


class DeliveryProducer:
    """One librdkafka producer for the process, with a thread serving its delivery reports."""

    def __init__(self, config: dict[str, Any], timeout_s: float, retry_after_s: int) -> None:
        self._producer = Producer(config)
        self._timeout_s = timeout_s
        self._retry_after_s = retry_after_s
        self._running = True
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _poll_loop(self) -> None:
        while self._running:
            self._producer.poll(0.05)

    async def send(self, messages: list[Outgoing]) -> None:
        """Return once Kafka acknowledged every message; raise Unavailable (503) otherwise."""
        if not messages:
            return
        acks = Acks(asyncio.get_running_loop(), len(messages))
        started = time.perf_counter()
        produced = 0
        try:
            for message in messages:
                self._producer.produce(message.topic, message.value, message.key, on_delivery=acks.on_delivery)
                produced += 1
        except (BufferError, KafkaException) as exc:
            log.warning("kafka.produce_refused", error=str(exc), produced=produced, total=len(messages))
            # Reports still come for what was queued; nothing is acknowledged to the client.
            raise Unavailable("Kafka cannot take events right now", retry_after=self._retry_after_s) from exc
        try:
            # librdkafka fails each message after message.timeout.ms; allow a little more here.
            await acks.wait(self._timeout_s + 2.0)
        except TimeoutError:
            raise Unavailable("Kafka did not acknowledge in time", retry_after=self._retry_after_s) from None
        if acks.error is not None:
            log.warning("kafka.delivery_failed", error=str(acks.error))
            raise Unavailable(f"Kafka did not accept the events ({acks.error.name()})", retry_after=self._retry_after_s)
        PRODUCE_LATENCY.observe(time.perf_counter() - started)

    def reachable(self, timeout_s: float = 1.0) -> bool:
        try:
            self._producer.list_topics(timeout=timeout_s)
        except KafkaException:
            return False
        return True

    def close(self, timeout_s: float = 30.0) -> int:
        """Flush what is queued (requests still wait for those acks), then stop. Returns what is left."""
        left = int(self._producer.flush(timeout_s))
        self._running = False
        self._poller.join(timeout=2)
        if left:
            log.error("kafka.unflushed_on_close", messages=left)
        return left
