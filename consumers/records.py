"""The worker's own check of a decoded record: what it relies on, whoever produced the message."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Message

from consumers.errors import InvalidMessage
from consumers.frames import Framed
from schemas.bounds import out_of_range
from schemas.errors import SchemaError
from schemas.serde import AvroDecoder
from schemas.vocabulary import EVENT_TYPES, THUMB_VALUES

REQUIRED = {
    "event": ("tenant_id", "event_id", "conversation_id"),
    "trace": ("tenant_id", "trace_id", "conversation_id"),
}


def contract_violation(subject: str, record: dict[str, Any]) -> str | None:
    """Why ``record`` cannot be stored, or None. ``consumers.bulk.VIOLATIONS`` is the same rule in SQL."""
    for name in REQUIRED[subject]:
        if not record.get(name):
            return f"{name}: required, missing or empty"
    too_big = out_of_range(subject, record)
    if too_big:
        return too_big
    if subject != "event":
        return None
    kind, value = record["type"], record.get("value")
    if kind not in EVENT_TYPES:
        return f"type: {kind!r} is not an event type"
    if kind == "rating" and not (isinstance(value, int) and 1 <= value <= 5):
        return f"value: {value!r} is not a rating from 1 to 5"
    if kind == "thumbs" and value not in THUMB_VALUES:
        return f"value: {value!r} is not a thumb (up, down, none)"
    return None


ID_FIELD = {"event": "event_id", "trace": "trace_id"}


def decode_one_by_one(
    subject: str,
    frames: list[tuple[Message, Framed]],
    decoder: AvroDecoder,
    origin: dict[tuple[str, str, str], list[Message]],
) -> tuple[list[dict[str, Any]], list[tuple[Message, InvalidMessage]]]:
    """The slow path's decode: each framed message on its own, so that exactly the culprits are
    invalid (undecodable body, breaking the contract, a number its column cannot hold) and the
    rest go on; ``origin`` learns which messages carried each record's key."""
    records: list[dict[str, Any]] = []
    invalid: list[tuple[Message, InvalidMessage]] = []
    for message, framed in frames:
        try:
            record = decoder.decode_body(framed.writer, framed.body)
        except SchemaError as exc:
            invalid.append((message, InvalidMessage("undecodable", str(exc))))
            continue
        problem = contract_violation(subject, record)
        if problem:
            invalid.append((message, InvalidMessage("schema-invalid", problem)))
        else:
            records.append(record)
            origin.setdefault((subject, record["tenant_id"], record[ID_FIELD[subject]]), []).append(message)
    return records, invalid
