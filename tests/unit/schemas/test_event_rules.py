"""Per-type rules of an EVENT (docs/contract.md §4): each failure names field and reason."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from producers.intake import format_errors
from schemas.models import EventIn, TraceIn
from tests.helpers import event, trace


def errors_of(item: dict[str, Any]) -> list[str]:
    try:
        EventIn.model_validate(item)
    except ValidationError as exc:
        return format_errors(exc)
    return []


@pytest.mark.parametrize("kind", ["thumbs", "rating", "comment", "edit", "copy", "regenerate", "rephrase", "dwell"])
def test_valid_events_of_every_type(kind: str) -> None:
    assert errors_of(event(kind)) == []


def test_abandon_needs_no_trace_or_message() -> None:
    item = event("abandon")
    del item["trace_id"], item["message_id"]
    assert errors_of(item) == []


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (event(type="like"), "type: must be one of"),
        (event(event_id="123"), "event_id: must be a UUID"),
        (event(timestamp=1_700_000_000), "timestamp: epoch milliseconds out of range"),
        (event(timestamp="2026-11-25 12:00"), "timestamp: RFC 3339 timestamp needs a UTC offset"),
        (event(timestamp="yesterday"), "timestamp: not an RFC 3339 timestamp"),
        (event(conversation_id="x" * 129), "conversation_id: String should have at most 128 characters"),
        (event(value="meh"), "value: thumbs must be one of up, down, none"),
        (
            event(value="up", reasons=["hallucinated"]),
            "reasons.0: 'hallucinated' is not a reason for thumbs up",
        ),
        (event(value="none", reasons=["slow"]), "reasons.0: 'slow' is not a reason for thumbs none"),
        (event("rating", value=0), "value: rating must be an integer from 1 to 5"),
        (event("rating", value=True), "value: thumbs take up, down or none; a rating an integer"),
        (event("rating", value=4.5), "value: thumbs take up, down or none; a rating an integer"),
        (event("thumbs", value=["up"]), "value: thumbs take up, down or none; a rating an integer"),
        (event("rating", value="5"), "value: rating must be an integer from 1 to 5"),
        (event("copy", value="up"), "value: not allowed for type copy"),
        (event("copy", reasons=["slow"]), "reasons: not allowed for type copy"),
        (event("copy", trace_id=None), "trace_id: required for type copy"),
        (event("dwell", dwell_ms=None), "dwell_ms: required for type dwell"),
        (event("dwell", dwell_ms=-1), "dwell_ms: must be at least 0"),
        (event("regenerate", attempt=0), "attempt: Input should be greater than or equal to 1"),
        (event("comment", comment=None), "comment: required for type comment"),
        (event("comment", comment="x" * 4001), "comment: String should have at most 4000 characters"),
        (event(surprise=1), "surprise: unknown field"),
        (
            event(properties={str(i): "v" for i in range(51)}),
            "properties: Dictionary should have at most 50 items",
        ),
        (event(properties={"k": 1}), "properties.k: Input should be a valid string"),
    ],
)
def test_each_bad_field_is_named_with_its_reason(item: dict[str, Any], expected: str) -> None:
    errors = errors_of(item)
    assert any(e.startswith(expected) for e in errors), errors


def test_tenant_and_api_key_in_an_item_are_dropped_not_errors() -> None:
    assert errors_of(event(tenant_id="evil", api_key="k")) == []


def test_rfc3339_and_epoch_ms_agree() -> None:
    a = EventIn.model_validate(event(timestamp="2026-11-25T12:00:00.250+01:00"))
    b = EventIn.model_validate(event(timestamp=1_795_604_400_250))
    assert a.timestamp == b.timestamp


def test_map_key_errors_name_the_key() -> None:
    assert 'properties.""[key]: String should have at least 1 character' in errors_of(event(properties={"": "v"}))
    assert "properties.plan: Input should be a valid string" in errors_of(event(properties={"plan": 1}))


def test_value_errors_are_one_line_and_whole_floats_are_ratings() -> None:
    assert errors_of(event("rating", value=4.5)) == [
        "value: thumbs take up, down or none; a rating an integer from 1 to 5"
    ]
    assert EventIn.model_validate(event("rating", value=5.0)).value == 5


def test_epoch_milliseconds_may_come_as_a_string() -> None:
    assert EventIn.model_validate(event(timestamp="1795608000000")).timestamp == 1_795_608_000_000


@pytest.mark.parametrize(
    ("model", "item", "field"),
    [
        (EventIn, event("dwell", dwell_ms=2**32), "dwell_ms"),
        (EventIn, event("regenerate", attempt=2**32), "attempt"),
        (TraceIn, trace("t", "c", input_tokens=2**32), "input_tokens"),
        (TraceIn, trace("t", "c", tools=[{"name": "x", "latency_ms": 2**40}]), "tools.0.latency_ms"),
        (TraceIn, trace("t", "c", retrieval={"chunk_count": 2**32}), "retrieval.chunk_count"),
    ],
)
def test_counts_beyond_their_uint32_columns_are_rejected(
    model: type[BaseModel], item: dict[str, Any], field: str
) -> None:
    # Found by schemathesis: accepted, then refused by ClickHouse, it stalled the worker.
    with pytest.raises(ValidationError) as caught:
        model.model_validate(item)
    assert format_errors(caught.value) == [f"{field}: must be at most {2**32 - 1}"]
