"""POST /v1/annotations on the collector alone: per-item reasons, the sink's refusals, the key kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from producers.annotations import AnnotationRejection, validate
from producers.app import Collector, create_app
from producers.keys import KeyStore
from runtime.settings import Settings
from schemas.annotations import AnnotationIn
from tests.unit.producers.fakes import AckingProducer

GOOD = {"queue": "q1", "item_id": "i1", "annotator": "ann", "label": "correct"}


class Sink:
    def __init__(self) -> None:
        self.stored: list[tuple[str, AnnotationIn, str]] = []

    def store(
        self, tenant: str, items: list[tuple[int, AnnotationIn]], received_at_ms: int, via: str
    ) -> list[AnnotationRejection]:
        refused = [
            AnnotationRejection(i, a.item_id, ["item_id: not in queue"]) for i, a in items if a.item_id == "nope"
        ]
        self.stored += [(tenant, a, via) for _, a in items if a.item_id != "nope"]
        return refused


def _client(sink: Any) -> tuple[TestClient, dict[str, str]]:
    path = Path(__file__).parent / "keys.sample.json"
    keys = KeyStore.load(path)
    secret = next(k for k in keys.all() if k.kind.value == "secret")
    app = create_app(Collector(Settings(), keys, AckingProducer(), annotations=sink))
    return TestClient(app), {"Authorization": f"Bearer {secret.key}"}


def test_each_item_gets_its_reasons_and_the_valid_ones_are_stored() -> None:
    sink = Sink()
    client, headers = _client(sink)
    body: dict[str, Any] = {
        "annotations": [
            GOOD,
            {**GOOD, "label": ""},
            {**GOOD, "score": "high", "extra": 1},
            {**GOOD, "item_id": "nope"},
            {**GOOD, "annotator": "bob", "timestamp": "2026-11-29T10:00:00Z", "reasons": ["tone"], "score": 2},
        ]
    }
    answer = client.post("/v1/annotations", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    rejected = {r["index"]: r for r in answer.json()["rejected"]}
    assert rejected[1]["errors"] == ["label: String should have at least 1 character"]
    assert "extra: unknown field" in rejected[2]["errors"]
    assert any(e.startswith("score: ") for e in rejected[2]["errors"])
    assert rejected[3] == {"index": 3, "item_id": "nope", "errors": ["item_id: not in queue"]}
    assert [(a.annotator, via) for _, a, via in sink.stored] == [("ann", "http"), ("bob", "http")]


def test_nothing_valid_is_a_400_and_a_public_key_may_not() -> None:
    client, headers = _client(Sink())
    answer = client.post("/v1/annotations", json={"annotations": [{"queue": "q"}]}, headers=headers)
    assert answer.status_code == 400
    assert "annotator: required" in answer.json()["rejected"][0]["errors"]
    keys = KeyStore.load(Path(__file__).parent / "keys.sample.json")
    public = next(k for k in keys.all() if k.kind.value == "public")
    answer = client.post(
        "/v1/annotations", json={"annotations": [GOOD]}, headers={"Authorization": f"Bearer {public.key}"}
    )
    assert answer.status_code == 403


def test_without_clickhouse_the_collector_says_so() -> None:
    client, headers = _client(None)
    assert client.post("/v1/annotations", json={"annotations": [GOOD]}, headers=headers).status_code == 503


class BrokenSink:
    def store(
        self, tenant: str, items: list[tuple[int, AnnotationIn]], received_at_ms: int, via: str
    ) -> list[AnnotationRejection]:
        raise ConnectionError("Code: 210. connection refused")


def test_a_clickhouse_outage_is_a_503_to_retry() -> None:
    client, headers = _client(BrokenSink())
    answer = client.post("/v1/annotations", json={"annotations": [GOOD]}, headers=headers)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"


def test_validate_numbers_from_the_first_index() -> None:
    checked = validate([GOOD, 3], first_index=10)
    assert [i for i, _ in checked.items] == [10]
    assert checked.rejected[0].index == 11


def test_a_score_is_a_number_not_a_boolean_or_text() -> None:
    checked = validate([{**GOOD, "score": True}, {**GOOD, "score": "1.5"}, {**GOOD, "score": 4}])
    assert [r.errors for r in checked.rejected] == [["score: Input should be a valid number"]] * 2
    assert checked.items[0][1].score == 4.0
