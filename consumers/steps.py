"""The worker's steps that are not a fast-path step: decode, dead-letter, announce, commit.

Each has one job and hands the batch to its ``next_step``; ``consumers.chain`` wires them with the
traces and events steps (``consumers.traces_step``, ``consumers.events_step``).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from confluent_kafka import Consumer, KafkaException

from consumers.batch import Batch
from consumers.dlq import DeadLetterSink
from consumers.errors import Backpressure, InvalidMessage
from consumers.frames import Framed
from consumers.metrics import LAG
from consumers.outcome import NOTHING, Outcome
from consumers.step import Step
from runtime.telemetry import FeedbackTelemetry
from schemas.errors import RegistryUnavailable, SchemaError
from schemas.serde import AvroDecoder

log = structlog.get_logger(__name__)


class Decode:
    """Messages are only framed here (the header names the writer schema): their bodies are
    decoded by ClickHouse, or by the traces and events steps' slow paths. What has no readable
    header is marked invalid."""

    def __init__(
        self, subject_of_topic: Callable[[str], str], decoders: dict[str, AvroDecoder], next_step: Step
    ) -> None:
        self._subject_of_topic = subject_of_topic
        self._decoders = decoders
        self.next_step = next_step

    def submit(self, batch: Batch) -> Outcome:
        for message in batch.messages:
            subject = self._subject_of_topic(str(message.topic()))
            payload = message.value()
            if not payload:
                batch.invalid.append((message, InvalidMessage("undecodable", "empty message value")))
                continue
            try:
                writer, start = self._decoders[subject].writer_of(payload)
            except RegistryUnavailable as exc:
                raise Backpressure(str(exc)) from exc
            except SchemaError as exc:
                batch.invalid.append((message, InvalidMessage("undecodable", str(exc))))
                continue
            frames = batch.event_frames if subject == "event" else batch.trace_frames
            frames.append((message, Framed(writer, payload[start:])))
        return self.next_step.submit(batch)


class DeadLetter:
    def __init__(self, sink: DeadLetterSink, next_step: Step) -> None:
        self._sink = sink
        self.next_step = next_step

    def submit(self, batch: Batch) -> Outcome:
        self._sink.send(batch.invalid)
        return Outcome(invalid=len(batch.invalid)) + self.next_step.submit(batch)


class Announce:
    """One ``chat.feedback.submitted`` OpenTelemetry event per explicit signal newly stored."""

    def __init__(self, telemetry: FeedbackTelemetry, next_step: Step) -> None:
        self._telemetry = telemetry
        self.next_step = next_step

    def submit(self, batch: Batch) -> Outcome:
        self._telemetry.submitted_many(batch.announced)
        return self.next_step.submit(batch)


class Commit:
    """Offsets are committed only after ClickHouse has the rows (and the DLQ its letters)."""

    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer

    def submit(self, batch: Batch) -> Outcome:
        offsets = batch.next_offsets()
        if not offsets:
            return NOTHING
        for tp in offsets:
            _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0:
                LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - tp.offset))
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Lost the partitions meanwhile: the new owner reads these again, and dedupe drops them.
            log.warning(
                "worker.commit_failed",
                error=str(exc),
                offsets=[f"{o.topic}[{o.partition}]@{o.offset}" for o in offsets],
            )
        return NOTHING


class Done:
    """The end of a chain that commits nothing (a replay reads in a consumer group of its own)."""

    def submit(self, _batch: Batch) -> Outcome:
        return NOTHING
