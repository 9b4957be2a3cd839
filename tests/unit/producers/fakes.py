"""A collector on a fake Kafka, served in-process by Starlette's test client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from producers.app import Collector, create_app
from producers.delivery import Acks, DeliveryProducer, Outgoing
from producers.keys import KeyStore
from runtime.settings import Settings

SAMPLE_KEYS = Path(__file__).parent / "keys.sample.json"


class AckingProducer(DeliveryProducer):
    """Stands in for Kafka: acknowledges everything at once. A DeliveryProducer (the type the collector
    takes) with every method replaced and no librdkafka producer or delivery thread behind it."""

    def __init__(self) -> None:  # deliberately not DeliveryProducer's: no Kafka here
        self.sent: list[Outgoing] = []

    def enqueue(self, messages: list[Outgoing]) -> Acks | None:
        self.sent.extend(messages)
        return None

    async def acknowledged(self, acks: Acks | None) -> None:
        return None

    def reachable(self, timeout_s: float = 1.0) -> bool:
        return True

    def close(self, timeout_s: float = 30.0) -> int:
        return 0


def fake_collector(keys: KeyStore | None = None, **settings: Any) -> Collector:
    """A collector with ``settings`` (rate limits off unless given) on a Kafka that acks at once."""
    config = Settings(**{"rate_limit_key_per_s": 0, "rate_limit_user_per_s": 0, **settings})
    return Collector(config, keys or KeyStore.load(SAMPLE_KEYS), AckingProducer())


def collector_client(keys: KeyStore | None = None, **settings: Any) -> tuple[TestClient, AckingProducer]:
    """A test client of a ``fake_collector``, and its producer."""
    collector = fake_collector(keys, **settings)
    producer = collector.producer
    assert isinstance(producer, AckingProducer)
    return TestClient(create_app(collector)), producer
