"""How far a consumer group is: its committed offsets against the topics' high watermarks.

The worker commits only after ClickHouse has a batch's rows, so "committed = high watermark on
every partition" means every message was written (or dead-lettered) — seen from outside the
worker process, without touching its chdb engine (which only it may open).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient


@dataclass(frozen=True)
class Progress:
    committed: dict[str, int]  # per topic, messages covered by commits
    total: dict[str, int]  # per topic, messages in the topic

    def done(self) -> bool:
        return all(self.committed.get(topic, 0) >= total for topic, total in self.total.items())

    def of(self, *topics: str) -> int:
        return sum(self.committed.get(topic, 0) for topic in topics)


class GroupLag:
    def __init__(self, bootstrap: str, group: str, topics: list[str]) -> None:
        self.group = group
        self._admin = AdminClient({"bootstrap.servers": bootstrap})
        probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-probe-{uuid.uuid4().hex}"})
        try:
            metadata = probe.list_topics(timeout=10)
            self.partitions = [
                TopicPartition(topic, partition)
                for topic in topics
                for partition in sorted(metadata.topics[topic].partitions)
            ]
            self.low: dict[tuple[str, int], int] = {}
            self.high: dict[tuple[str, int], int] = {}
            for tp in self.partitions:
                low, high = probe.get_watermark_offsets(tp, timeout=10)
                self.low[(tp.topic, tp.partition)] = low
                self.high[(tp.topic, tp.partition)] = high
        finally:
            probe.close()

    def delete_group(self) -> None:
        """Forget the group once its worker is gone (its topics are deleted with the workspace)."""
        for future in self._admin.delete_consumer_groups([self.group], request_timeout=10).values():
            with contextlib.suppress(KafkaException):
                future.result()

    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (topic, partition), high in self.high.items():
            totals[topic] = totals.get(topic, 0) + high - self.low[(topic, partition)]
        return totals

    def progress(self) -> Progress:
        request = [ConsumerGroupTopicPartitions(self.group, list(self.partitions))]
        answer = self._admin.list_consumer_group_offsets(request, request_timeout=10)
        committed: dict[str, int] = {}
        for future in answer.values():
            for tp in future.result().topic_partitions:
                key = (tp.topic, tp.partition)
                done = max(0, tp.offset - self.low[key]) if tp.offset >= 0 else 0
                committed[tp.topic] = committed.get(tp.topic, 0) + done
        return Progress(committed, self.totals())
