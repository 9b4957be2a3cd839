"""The worker's own check of a decoded record: what it relies on, whoever produced the message."""

from __future__ import annotations

from typing import Any

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
