"""A batch of consumed messages, framed by the decode step; what the steps did with it is their
``Outcome`` (``consumers.outcome``), not fields of the batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import Message, TopicPartition

from consumers.errors import InvalidMessage
from consumers.frames import Framed


def position(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a consumed message (always set on one that has no error)."""
    return str(message.topic()), int(message.partition() or 0), int(message.offset() or 0)


@dataclass
class Batch:
    messages: list[Message]
    event_frames: list[tuple[Message, Framed]] = field(default_factory=list)
    trace_frames: list[tuple[Message, Framed]] = field(default_factory=list)
    # what the decode step could not frame: the dead-letter step sends it
    invalid: list[tuple[Message, InvalidMessage]] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)  # records of the explicit events newly stored
    # (subject, tenant_id, id) → the messages that carried it: whom to dead-letter when
    # ClickHouse refuses the row made of it (consumers.isolate).
    origin: dict[tuple[str, str, str], list[Message]] = field(default_factory=dict)

    def partitions(self) -> set[int]:
        """The partition numbers (shards, ``consumers.write_locks``) this batch writes."""
        return {position(message)[1] for message in self.messages}

    def first_offsets(self) -> list[TopicPartition]:
        """Where each partition of this batch starts: where to seek back to retry it."""
        first: dict[tuple[str, int], int] = {}
        for message in self.messages:
            topic, partition, offset = position(message)
            first.setdefault((topic, partition), offset)
        return [TopicPartition(topic, partition, offset) for (topic, partition), offset in first.items()]

    def next_offsets(self) -> list[TopicPartition]:
        """What to commit once the batch is stored: one past each partition's last message."""
        last: dict[tuple[str, int], int] = {}
        for message in self.messages:
            topic, partition, offset = position(message)
            last[(topic, partition)] = offset
        return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]
