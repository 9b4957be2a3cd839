"""Read the DLQ (why each message failed, where it came from) and redrive it after a fix.

Which letters were redriven is recorded letter by letter: a marker message (no value, header
``dlq.redriven`` = the letter's ref) in the letter's own DLQ partition, after the letter. A
redrive of one reason thus marks exactly the letters it sent; the redrive group's committed
offsets only skip, as an optimisation, a prefix in which every letter is marked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from consumers import dlq
from consumers.batch import position
from operations.positions import consume_range
from runtime.kafka import consumer_config, producer_config
from runtime.settings import Settings

REDRIVE_GROUP = "feedback-dlq-redrive"
REDRIVEN_FROM = "dlq.redriven_from"
# Header of a marker message in the DLQ: the ref of a letter that was redriven.
REDRIVEN = "dlq.redriven"


@dataclass(frozen=True)
class Letter:
    partition: int
    offset: int
    reason: str
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int
    failed_at: datetime | None
    key: bytes | None
    value: bytes | None
    redriven: bool = False

    @property
    def ref(self) -> str:
        """How ``feedback dlq show`` names it: DLQ partition and offset."""
        return f"{self.partition}:{self.offset}"

    @classmethod
    def of(cls, message: Message) -> Letter:
        headers = header_dict(message)
        _, partition, offset = position(message)
        failed_at = headers.get(dlq.FAILED_AT, "")
        return cls(
            partition=partition,
            offset=offset,
            reason=headers.get(dlq.REASON, "unknown"),
            detail=headers.get(dlq.DETAIL, ""),
            source_topic=headers.get(dlq.SOURCE_TOPIC, ""),
            source_partition=int(headers.get(dlq.SOURCE_PARTITION, "-1")),
            source_offset=int(headers.get(dlq.SOURCE_OFFSET, "-1")),
            failed_at=datetime.fromtimestamp(int(failed_at) / 1000, UTC) if failed_at.isdigit() else None,
            key=message.key(),
            value=message.value(),
        )


def header_dict(message: Message) -> dict[str, str]:
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {
        name: value.decode(errors="replace") if isinstance(value, bytes) else str(value or "") for name, value in pairs
    }


def read_letters(settings: Settings, group: str | None = None, from_committed: bool = False) -> list[Letter]:
    """Every letter now in the DLQ (or, with ``from_committed``, those after ``group``'s commits),
    each knowing whether it was redriven; the markers themselves are not letters."""
    topic = settings.topic("dlq")
    consumer = Consumer(consumer_config(settings, group or f"feedback-dlq-reader-{uuid.uuid4().hex[:8]}"))
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
        committed = consumer.committed(partitions, timeout=10) if from_committed else partitions
        starts, ends = {}, {}
        for tp in committed:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            start = tp.offset if from_committed and tp.offset >= 0 else low
            if start < high:
                starts[tp.partition], ends[tp.partition] = start, high
        letters, marked = [], set()
        for batch in consume_range(consumer, topic, starts, ends, 1000):
            for message in batch:
                ref = header_dict(message).get(REDRIVEN)
                if ref is None:
                    letters.append(Letter.of(message))
                else:
                    marked.add(ref)
        letters = [replace(letter, redriven=letter.ref in marked) for letter in letters]
        return sorted(letters, key=lambda letter: (letter.failed_at or datetime.min.replace(tzinfo=UTC), letter.ref))
    finally:
        consumer.close()


def redrive(settings: Settings, letters: list[Letter]) -> list[Letter]:
    """Send letters back to their source topics, unchanged (same key, so the same partition);
    returns those sent (a letter that names no source topic cannot be)."""
    producer = Producer(producer_config(settings))
    sent = []
    for letter in letters:
        if not letter.source_topic:
            continue
        producer.produce(letter.source_topic, letter.value, letter.key, headers=[(REDRIVEN_FROM, letter.ref.encode())])
        sent.append(letter)
    left = producer.flush(30)
    if left:
        raise RuntimeError(f"{left} redriven message(s) not acknowledged by Kafka")
    return sent


def mark_redriven(settings: Settings, sent: list[Letter], read: list[Letter]) -> None:
    """Record that the letters ``sent`` were redriven (one marker each, so the next redrive skips
    them and only them), then let the redrive group skip the prefix of each partition in which
    every letter of ``read`` is now marked."""
    topic = settings.topic("dlq")
    if sent:
        producer = Producer(producer_config(settings))
        for letter in sent:
            producer.produce(topic, None, b"redriven", partition=letter.partition, headers=[(REDRIVEN, letter.ref)])
        left = producer.flush(30)
        if left:
            raise RuntimeError(f"{left} redrive marker(s) not acknowledged by Kafka: those letters may be sent again")
    done = {letter.ref for letter in sent} | {letter.ref for letter in read if letter.redriven}
    skip: dict[int, int] = {}
    blocked: set[int] = set()
    for letter in sorted(read, key=lambda one: (one.partition, one.offset)):
        if letter.partition in blocked:
            continue
        if letter.ref in done:
            skip[letter.partition] = letter.offset + 1
        else:
            blocked.add(letter.partition)
    if not skip:
        return
    consumer = Consumer(consumer_config(settings, REDRIVE_GROUP))
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in skip.items()], asynchronous=False)
    finally:
        consumer.close()
