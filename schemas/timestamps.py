"""Client timestamps: RFC 3339 strings or epoch milliseconds, normalised to epoch milliseconds (UTC)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

# Epoch ms bounds that a real client clock can produce: 2000-01-01 .. 2100-01-01.
MIN_EPOCH_MS = 946_684_800_000
MAX_EPOCH_MS = 4_102_444_800_000


def to_epoch_ms(value: Any) -> int:
    """Parse an RFC 3339 string (with offset) or an integer of epoch milliseconds."""
    if isinstance(value, bool):
        raise ValueError("expected an RFC 3339 string or epoch milliseconds, got a boolean")
    if isinstance(value, int):
        millis = value
    elif (isinstance(value, float) and value.is_integer()) or (isinstance(value, str) and value.isdigit()):
        millis = int(value)  # 1.7e12 from a JSON encoder, or "1795608000000"
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("not an RFC 3339 timestamp (e.g. 2026-11-25T12:00:00Z) nor epoch milliseconds") from None
        if parsed.tzinfo is None:
            raise ValueError("RFC 3339 timestamp needs a UTC offset (Z or +hh:mm)")
        millis = int(parsed.timestamp() * 1000)
    else:
        raise ValueError("expected an RFC 3339 string or epoch milliseconds")
    if not MIN_EPOCH_MS <= millis < MAX_EPOCH_MS:
        raise ValueError("epoch milliseconds out of range (years 2000-2099); seconds instead of milliseconds?")
    return millis


EpochMs = Annotated[
    int,
    BeforeValidator(to_epoch_ms),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": MIN_EPOCH_MS, "maximum": MAX_EPOCH_MS - 1},
                {"type": "string", "format": "date-time"},
            ],
            "description": "epoch milliseconds, or RFC 3339 with a UTC offset",
        }
    ),
]
