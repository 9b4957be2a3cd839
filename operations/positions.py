"""Where a replay starts and ends: an offset, an ISO time, or a time relative to now (``2h``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import Consumer, Message, TopicPartition

from consumers.batch import position

RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@dataclass(frozen=True)
class Position:
    """An offset (the same in every partition) or a point in time (epoch ms)."""

    offset: int | None = None
    time_ms: int | None = None

    @classmethod
    def parse(cls, text: str, now_ms: int, option: str = "--from") -> Position:
        text = text.strip()
        if text.isdigit():
            return cls(offset=int(text))
        relative = RELATIVE.match(text)
        if relative:
            return cls(time_ms=now_ms - int(relative.group(1)) * UNIT_MS[relative.group(2)])
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{option}: {text!r} is not an offset (e.g. 1200), an ISO time (2026-11-25T12:00:00Z) "
                "or a time relative to now (30m, 2h, 7d)"
            ) from None
        if parsed.tzinfo is None:
            raise ValueError(f"{option}: {text!r} needs a UTC offset (Z or +hh:mm)")
        return cls(time_ms=int(parsed.timestamp() * 1000))


def resolve(consumer: Consumer, topic: str, partitions: list[int], position: Position) -> dict[int, int]:
    """The offset of ``position`` in each partition, kept within what the partition holds."""
    bounds = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
    if position.offset is not None:
        return {p: min(max(position.offset, low), high) for p, (low, high) in bounds.items()}
    assert position.time_ms is not None
    found = consumer.offsets_for_times([TopicPartition(topic, p, position.time_ms) for p in partitions], timeout=10)
    # -1: no message at or after that time, i.e. the end of the partition
    return {tp.partition: bounds[tp.partition][1] if tp.offset < 0 else tp.offset for tp in found}


def consume_range(
    consumer: Consumer, topic: str, starts: dict[int, int], ends: dict[int, int], batch_size: int = 5000
) -> Iterator[list[Message]]:
    """The messages of each partition from its start offset up to (not including) its end, in
    batches; assigns the consumer itself. Done when every partition has reached its end, also when
    offsets have gaps (compacted or aborted records) and the last one never arrives."""
    pending = {p: ends[p] for p in starts if starts[p] < ends.get(p, 0)}
    if not pending:
        return
    consumer.assign([TopicPartition(topic, p, starts[p]) for p in pending])
    while pending:
        keep = []
        for message in consumer.consume(batch_size, 1.0):
            if message.error() is not None:
                continue
            _, p, offset = position(message)
            if p in pending and offset < pending[p]:
                keep.append(message)
            if p in pending and offset >= pending[p] - 1:
                del pending[p]
                consumer.incremental_unassign([TopicPartition(topic, p)])
        if keep:
            yield keep
        elif pending:
            for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= pending[tp.partition]:
                    del pending[tp.partition]
