"""Pipeline health seen from Kafka: how many messages the workers have yet to store (their
group's committed offsets against the topics' ends) and how many sit in the dead-letter topic.

Read from outside the workers (the group's commits), so it is true for workers in any process.
Answers are cached for a few seconds: a dashboard refreshing must not hammer the brokers.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import structlog
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

log = structlog.get_logger(__name__)

CACHE_S = 5.0
TIMEOUT_S = 5.0


class KafkaHealth:
    def __init__(self, connection: dict[str, Any], group: str, topics: list[str], dlq_topic: str) -> None:
        """``connection``: the clients' bootstrap and security settings (runtime.kafka.connection_config)."""
        self.group = group
        self.topics = topics
        self.dlq_topic = dlq_topic
        self._config = dict(connection)
        self._lock = threading.Lock()
        self._admin: AdminClient | None = None
        self._probe: Any = None
        self._cached: tuple[float, dict[str, Any]] | None = None

    def __call__(self) -> dict[str, Any]:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < CACHE_S:
                return self._cached[1]
            try:
                answer = self._measure()
            except (KafkaException, KeyError, ValueError) as exc:
                log.warning("stats.kafka_health_failed", error=str(exc))
                answer = {"error": f"Kafka: {exc}"}
            self._cached = (time.monotonic(), answer)
            return answer

    def _clients(self) -> tuple[AdminClient, Any]:
        if self._admin is None:
            self._admin = AdminClient(self._config)
            self._probe = Consumer({**self._config, "group.id": f"feedback-health-{uuid.uuid4().hex}"})
        return self._admin, self._probe

    def _ends(self, probe: Any, topics: list[str]) -> dict[tuple[str, int], tuple[int, int]]:
        metadata = probe.list_topics(timeout=TIMEOUT_S)
        ends = {}
        for topic in topics:
            if topic not in metadata.topics:
                continue
            for partition in sorted(metadata.topics[topic].partitions):
                ends[(topic, partition)] = probe.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=TIMEOUT_S
                )
        return ends

    def _measure(self) -> dict[str, Any]:
        admin, probe = self._clients()
        ends = self._ends(probe, [*self.topics, self.dlq_topic])
        dlq = sum(high - low for (topic, _), (low, high) in ends.items() if topic == self.dlq_topic)
        partitions = [TopicPartition(t, p) for (t, p) in ends if t != self.dlq_topic]
        request = [ConsumerGroupTopicPartitions(self.group, partitions)]
        lag = 0
        for future in admin.list_consumer_group_offsets(request, request_timeout=TIMEOUT_S).values():
            for tp in future.result().topic_partitions:
                low, high = ends[(tp.topic, tp.partition)]
                lag += high - max(tp.offset, low) if tp.offset >= 0 else high - low
        measured_at_ms = int(time.time() * 1000)
        return {"lag_messages": lag, "dlq_messages": dlq, "group": self.group, "measured_at_ms": measured_at_ms}

    def close(self) -> None:
        with self._lock:
            if self._probe is not None:
                self._probe.close()
                self._probe = None
