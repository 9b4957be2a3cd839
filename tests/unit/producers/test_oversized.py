"""An item too large for one Kafka message is rejected on its own, in order with the others."""

from __future__ import annotations

from runtime.kafka import max_item_bytes
from tests.helpers import event
from tests.unit.producers.fakes import collector_client

EMOJI = "\U0001f600"


def test_an_oversized_item_is_rejected_as_that_item() -> None:
    client, producer = collector_client(kafka_max_message_bytes=65_536)
    huge = event("copy", properties={f"p{i}": EMOJI * 1024 for i in range(50)})  # ~200 KB of UTF-8
    items = [event("copy"), huge, {"type": "nonsense"}, event("copy")]
    response = client.post("/v1/events", json={"events": items}, headers={"Authorization": "Bearer sk_1"})
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 2
    rejected = response.json()["rejected"]
    assert [r["index"] for r in rejected] == [1, 2]
    assert rejected[0]["event_id"] == huge["event_id"]
    assert rejected[0]["errors"][0].startswith("item: ")
    assert f"over the limit of {max_item_bytes(65_536)} bytes per item" in rejected[0]["errors"][0]
    assert len(producer.sent) == 2
    assert 'feedback_items_rejected_total{field="item",kind="event"}' in client.get("/metrics").text

    alone = client.post("/v1/events", json=huge, headers={"Authorization": "Bearer sk_1"})
    assert alone.status_code == 400
    assert alone.json()["rejected"][0]["errors"][0].startswith("item: ")


def test_the_item_limit_leaves_room_for_framing_and_compression() -> None:
    assert max_item_bytes(1_048_576) == 1_048_576 - 4096 - 8192
    assert 0 < max_item_bytes(65_536) < 65_536 - 4096
