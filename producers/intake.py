"""From a request body to validated records: envelope parsing, per-item validation, clock-skew correction.

Every bad item is rejected on its own with ``field: reason`` messages; its valid siblings go on.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from producers.errors import BadRequest, TooLarge
from schemas.models import EventIn, TraceIn
from schemas.timestamps import to_epoch_ms

# The documented rule for absurd client clocks (README, "Timestamps"):
# - timestamps outside 2000..2099 are rejected (usually seconds sent instead of milliseconds);
# - the corrected time may not lie in the future: it is capped at received_at;
# - it may not lie more than MAX_EVENT_AGE_MS before received_at: such an item is rejected.
MAX_EVENT_AGE_MS = 30 * 24 * 3600 * 1000

ModelT = TypeVar("ModelT", bound=BaseModel)
# An accepted item as a plain dict shaped like its Avro record (FeedbackEvent / LlmTrace):
# the hot path skips building a second pydantic model for what was just validated.
Record = dict[str, Any]


@dataclass
class Rejection:
    index: int
    errors: list[str]
    event_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "errors": self.errors}


@dataclass
class Intake:
    """What a body yielded: records ready to produce, and the items rejected with reasons."""

    records: list[Record] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)  # each record's place in the request

    def accept(self, index: int, record: Record) -> None:
        self.records.append(record)
        self.indexes.append(index)


def parse_body(raw: bytes, content_encoding: str | None, max_bytes: int) -> tuple[dict[str, Any], str | None]:
    """Decompress and parse a JSON object body; returns it and the ``api_key`` it carries, if any."""
    raw = decompress(raw, content_encoding, max_bytes)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body: not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadRequest("body: expected a JSON object")
    api_key = body.pop("api_key", None)
    return body, api_key if isinstance(api_key, str) else None


def decompress(raw: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body as sent before ``Content-Encoding`` (gzip or none), at most ``max_bytes`` once inflated."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        return _gunzip(raw, max_bytes)
    if encoding not in ("identity", ""):
        raise BadRequest(f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    return raw


def _gunzip(raw: bytes, max_bytes: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(raw, max_bytes + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise BadRequest(f"body: not valid gzip ({exc})") from None
    if len(out) > max_bytes or decompressor.unconsumed_tail:
        raise TooLarge(f"body: over {max_bytes} bytes once decompressed")
    return out


def items_of(body: dict[str, Any], list_field: str, max_items: int) -> tuple[list[Any], Any]:
    """The items of an envelope ``{"<list_field>": [...]}`` or of one bare item, and ``sent_at``."""
    sent_at = body.pop("sent_at", None)
    if list_field in body:
        items = body.pop(list_field)
        if not isinstance(items, list):
            raise BadRequest(f"{list_field}: expected a list")
        unknown = sorted(body)
        if unknown:
            raise BadRequest(f"{unknown[0]}: unknown envelope field (expected {list_field}, sent_at, api_key)")
    else:
        items = [body]
    if not items:
        raise BadRequest(f"{list_field}: empty, nothing to accept")
    if len(items) > max_items:
        raise TooLarge(f"{list_field}: {len(items)} items, at most {max_items} per request")
    return items, sent_at


def format_errors(exc: ValidationError) -> list[str]:
    """Pydantic errors as ``field: reason`` lines (cross-field rules already carry their field)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        loc = field_path(error["loc"])
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required"
        if loc:
            lines.append(f"{loc}: {message}")
        else:
            lines.extend(message.split("; "))
    return lines


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('properties', 'plan')`` → ``properties.plan``; a map key itself → ``properties."x"[key]``."""
    path = ""
    for part in loc:
        if part == "[key]":
            path += "[key]"
        elif isinstance(part, str) and (part == "" or not part.replace("_", "a").replace("-", "a").isalnum()):
            path += f".{orjson.dumps(part).decode()}"
        else:
            path += f".{part}"
    return path.removeprefix(".")


def _validate(model: type[ModelT], index: int, item: Any) -> ModelT | Rejection:
    if not isinstance(item, dict):
        return Rejection(index, [f"{index}: expected a JSON object"])
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        event_id = item.get("event_id")
        return Rejection(index, format_errors(exc), event_id if isinstance(event_id, str) else None)


def corrected_ts(timestamp: int, sent_at: int | None, received_at: int) -> int:
    """Event time on the server clock: ``received_at - (sent_at - timestamp)``, never in the future."""
    ts = timestamp if sent_at is None else received_at - (sent_at - timestamp)
    return min(ts, received_at)


def accept_events(
    items: list[Any], sent_at_raw: Any, tenant: str, received_at: int, received_via: str = "http"
) -> Intake:
    try:
        sent_at = None if sent_at_raw is None else to_epoch_ms(sent_at_raw)
    except ValueError as exc:
        raise BadRequest(f"sent_at: {exc}") from None
    intake = Intake()
    for index, item in enumerate(items):
        checked = _validate(EventIn, index, item)
        if isinstance(checked, Rejection):
            intake.rejected.append(checked)
            continue
        ts = corrected_ts(checked.timestamp, sent_at, received_at)
        if ts < received_at - MAX_EVENT_AGE_MS:
            intake.rejected.append(
                Rejection(index, ["timestamp: more than 30 days before the collector received it"], checked.event_id)
            )
            continue
        # An EventIn holds plain values only (no nested models): its fields are the dump.
        record = dict(checked.__dict__)
        # ``redacted``: nothing yet; the collector's redaction (producers/record_redaction.py) says
        # what it replaced, so every accepted record is a whole EVENT record
        record.update(
            tenant_id=tenant, sent_at=sent_at, received_at=received_at, ts=ts, received_via=received_via, redacted=[]
        )
        intake.accept(index, record)
    return intake


def accept_traces(items: list[Any], tenant: str, received_at: int) -> Intake:
    intake = Intake()
    for index, item in enumerate(items):
        checked = _validate(TraceIn, index, item)
        if isinstance(checked, Rejection):
            trace_id = item.get("trace_id") if isinstance(item, dict) else None
            checked.event_id = trace_id if isinstance(trace_id, str) else None
            intake.rejected.append(checked)
            continue
        record = checked.model_dump()
        record.update(
            tenant_id=tenant, received_at=received_at, timestamp=record["timestamp"] or received_at, redacted=[]
        )
        intake.accept(index, record)
    return intake
