"""The compiled Avro writer writes exactly fastavro's bytes, and leaves to fastavro what it does not cover."""

from __future__ import annotations

import time
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer

from bench.data import Generator
from producers.intake import accept_events, accept_traces
from schemas.compiled_writer import Unsupported, compile_writer
from schemas.serde import AvroDecoder, AvroEncoder


def fastavro_bytes(encoder: AvroEncoder, record: dict[str, Any]) -> bytes:
    out = BytesIO()
    schemaless_writer(out, encoder.schema.parsed, record)
    return out.getvalue()


def compiled(subject: str) -> Any:
    writer = compile_writer(AvroEncoder(subject).schema.parsed)
    assert writer is not None
    return writer


def test_same_bytes_as_fastavro_for_accepted_events_and_traces() -> None:
    generator = Generator(7, run="cw")
    now = int(time.time() * 1000)
    events = accept_events([generator.event(i) for i in range(2000)], None, "acme", now).records
    traces = accept_traces([generator.trace(i) for i in range(1000)], "acme", now).records
    for subject, records in (("event", events), ("trace", traces)):
        encoder, writer = AvroEncoder(subject), compiled(subject)
        assert records
        for record in records:
            assert writer(record) == fastavro_bytes(encoder, record)


EDGES: list[dict[str, Any]] = [
    {"value": -1},
    {"value": 2**40},
    {"value": -(2**63)},
    {"value": 2**63 - 1},
    {"value": "ünïcødé ✓ 😀"},
    {"comment": ""},
    {"comment": "x" * 5000},
    {"properties": {"ключ": "значение", "": ""}},
    {"reasons": ["a", "b", "c"]},
    {"sent_at": None},
    {"sent_at": 0},
    {"copied_chars": 63, "attempt": 64, "dwell_ms": -64, "edit_distance": -65},
]


@pytest.mark.parametrize("fields", EDGES)
def test_same_bytes_on_edge_values(fields: dict[str, Any]) -> None:
    record = {**base_event(), **fields}
    encoder = AvroEncoder("event")
    assert compiled("event")(record) == fastavro_bytes(encoder, record)
    assert encoder.encode(record)[10:] == fastavro_bytes(encoder, record)


def test_same_bytes_on_traces_with_nested_records_and_floats() -> None:
    record = {
        "trace_id": "t", "tenant_id": "acme", "conversation_id": "c", "received_at": 1, "timestamp": 2,
        "streaming": False, "truncated": True, "retrieval": {"doc_ids": ["d"], "scores": [0.5, -1e300, 3.0]},
        "tools": [{"name": "search", "success": None, "latency_ms": 5, "error": "é"}], "moderation_flags": [],
    }  # fmt: skip
    assert compiled("trace")(record) == fastavro_bytes(AvroEncoder("trace"), record)


def base_event() -> dict[str, Any]:
    return {
        "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "tenant_id": "acme", "type": "thumbs",
        "timestamp": 1_795_000_000_000, "received_at": 1_795_000_000_100, "ts": 1_795_000_000_000,
        "conversation_id": "c",
    }  # fmt: skip


@pytest.mark.parametrize(
    "fields",
    [
        {"value": True},  # a bool where a long goes: fastavro's rules, not ours
        {"value": 4.0},
        {"value": 2**63},  # out of a long's range
        {"copied_chars": "12"},
        {"timestamp": None},
        {"properties": {"k": 1}},
        {"comment": "\ud800"},  # a lone surrogate cannot be UTF-8
    ],
)
def test_what_it_does_not_cover_goes_to_fastavro(fields: dict[str, Any]) -> None:
    record = {**base_event(), **fields}
    with pytest.raises((Unsupported, UnicodeEncodeError)):
        compiled("event")(record)
    encoder = AvroEncoder("event")
    try:
        expected: bytes | type[Exception] = fastavro_bytes(encoder, record)
    except Exception as exc:  # whatever fastavro raises, the encoder must too
        expected = type(exc)
    if isinstance(expected, bytes):
        assert encoder.encode(record)[10:] == expected
    else:
        with pytest.raises(expected):
            encoder.encode(record)


def test_a_missing_field_is_written_as_fastavro_would() -> None:
    encoder = AvroEncoder("event")
    record = base_event()  # every optional field left out: defaults, or null
    assert encoder.encode(record)[10:] == fastavro_bytes(encoder, record)
    assert AvroDecoder("event").decode(encoder.encode(record))["received_via"] == "http"


def test_schemas_with_types_it_does_not_cover_are_left_to_fastavro() -> None:
    enum = parse_schema(
        {
            "type": "record",
            "name": "E",
            "fields": [{"name": "e", "type": {"type": "enum", "name": "K", "symbols": ["A"]}}],
        }
    )
    money = {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}
    decimal = parse_schema({"type": "record", "name": "D", "fields": [{"name": "d", "type": money}]})
    assert isinstance(enum, dict)
    assert isinstance(decimal, dict)
    assert compile_writer(enum) is None
    assert compile_writer(decimal) is None


def test_a_cached_long_is_not_given_to_an_equal_float_or_bool() -> None:
    writer = compiled("event")
    for number in (1, 2**40):
        assert writer({**base_event(), "timestamp": number}) == fastavro_bytes(
            AvroEncoder("event"), {**base_event(), "timestamp": number}
        )
    for alias in (True, 1.0, float(2**40)):
        with pytest.raises(Unsupported):
            writer({**base_event(), "timestamp": alias})
