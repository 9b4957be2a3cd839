from __future__ import annotations

import pytest

from schemas.catalog import default_catalog
from schemas.errors import UndecodableMessage, UnknownSchema
from schemas.serde import SINGLE_OBJECT_MAGIC, AvroDecoder, AvroEncoder

EVENT = {
    "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "tenant_id": "acme",
    "type": "rating",
    "timestamp": 1_795_608_000_000,
    "sent_at": None,
    "received_at": 1_795_608_000_500,
    "ts": 1_795_608_000_000,
    "conversation_id": "c1",
    "trace_id": "t1",
    "message_id": "m1",
    "turn_id": None,
    "response_id": None,
    "session_id": None,
    "user_id": "u1",
    "value": 4,
    "reasons": [],
    "comment": "fine",
    "edited_text": None,
    "edit_distance": None,
    "copied_chars": None,
    "attempt": None,
    "dwell_ms": None,
    "properties": {"plan": "pro"},
}


def test_single_object_encoding_names_the_writer_schema() -> None:
    payload = AvroEncoder("event").encode(EVENT)
    assert payload[:2] == SINGLE_OBJECT_MAGIC
    assert payload[2:10] == default_catalog().latest("event").fingerprint


def test_round_trip() -> None:
    decoded = AvroDecoder("event").decode(AvroEncoder("event").encode(EVENT))
    assert decoded["value"] == 4
    assert decoded["properties"] == {"plan": "pro"}
    assert int(decoded["ts"].timestamp() * 1000) == EVENT["ts"]


def test_unknown_fingerprint_and_garbage_are_errors() -> None:
    payload = AvroEncoder("event").encode(EVENT)
    with pytest.raises(UnknownSchema):
        AvroDecoder("event").decode(SINGLE_OBJECT_MAGIC + b"\x00" * 8 + payload[10:])
    with pytest.raises(UndecodableMessage):
        AvroDecoder("event").decode(b"{json}")
    with pytest.raises(UndecodableMessage):
        AvroDecoder("event").decode(payload[:14])
    with pytest.raises(UndecodableMessage):
        AvroDecoder("trace").decode(payload)


def test_schemas_are_parsed_once_for_fastavro() -> None:
    # Without fastavro's parse marker, every encode call parses the schema again (half the speed).
    for subject in ("event", "trace"):
        for version in default_catalog().versions(subject):
            assert version.parsed.get("__fastavro_parsed"), (subject, version.version)
