"""Pydantic models of the contract's EVENT and TRACE.

``EventIn`` and ``TraceIn`` are what clients send (docs/contract.md §4 and §5).
``FeedbackEvent`` and ``LlmTrace`` are the records on Kafka: field for field the
Avro schemas in ``schemas/avro`` (a unit test proves it).
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from schemas import vocabulary as v
from schemas.bounds import fields_of, fits_column
from schemas.timestamps import EpochMs

Id = Annotated[str, StringConstraints(min_length=1, max_length=v.ID_MAX)]
PropertyKey = Annotated[str, StringConstraints(min_length=1, max_length=v.PROPERTY_KEY_MAX)]
PropertyValue = Annotated[str, StringConstraints(max_length=v.PROPERTY_VALUE_MAX)]
Properties = Annotated[dict[PropertyKey, PropertyValue], Field(max_length=v.PROPERTIES_MAX)]
TraceText = Annotated[str, StringConstraints(max_length=v.TRACE_TEXT_MAX)]


def _signal_value(value: Any) -> str | int | None:
    """A thumb (a string) or a rating (an integer; 4.0 is 4): one clear message for anything else."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError("thumbs take up, down or none; a rating an integer from 1 to 5")


SignalValue = Annotated[
    str | int | None,
    PlainValidator(_signal_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": sorted(v.THUMB_VALUES), "description": "thumbs"},
                {"type": "integer", "minimum": 1, "maximum": 5, "description": "rating"},
                {"type": "null"},
            ]
        }
    ),
]

CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Fields clients may send that the collector drops on purpose: the tenant comes from
# the key, and the key may ride in the body for navigator.sendBeacon.
IGNORED_INPUT_FIELDS = frozenset({"tenant_id", "api_key"})

# Which optional fields belong to which event types; any other type sending them is an error.
FIELDS_BY_TYPE: dict[str, frozenset[str]] = {
    "value": frozenset({"thumbs", "rating"}),
    "reasons": frozenset({"thumbs"}),
    "comment": frozenset({"thumbs", "rating", "comment"}),
    "edited_text": frozenset({"edit"}),
    "edit_distance": frozenset({"edit"}),
    "copied_chars": frozenset({"copy"}),
    "attempt": frozenset({"regenerate"}),
    "dwell_ms": frozenset({"dwell"}),
}
REQUIRED_BY_TYPE: dict[str, tuple[str, ...]] = {
    "thumbs": ("value",),
    "rating": ("value",),
    "comment": ("comment",),
    "dwell": ("dwell_ms",),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_ignored(cls, data: Any) -> Any:
        if isinstance(data, dict) and not IGNORED_INPUT_FIELDS.isdisjoint(data):
            return {key: value for key, value in data.items() if key not in IGNORED_INPUT_FIELDS}
        return data


class EventIn(_Strict):
    """One EVENT as a client sends it."""

    event_id: Annotated[str, Field(json_schema_extra={"format": "uuid"})]
    type: Annotated[str, Field(json_schema_extra={"enum": sorted(v.EVENT_TYPES)})]
    timestamp: EpochMs
    conversation_id: Id
    trace_id: Id | None = None
    message_id: Id | None = None
    turn_id: Id | None = None
    response_id: Id | None = None
    session_id: Id | None = None
    user_id: Id | None = None
    anonymous_id: Id | None = None
    value: SignalValue = None
    reasons: list[str] = Field(default_factory=list, max_length=len(v.DOWN_REASONS))
    comment: Annotated[str, StringConstraints(max_length=v.COMMENT_MAX)] | None = None
    edited_text: Annotated[str, StringConstraints(max_length=v.EDITED_TEXT_MAX)] | None = None
    edit_distance: int | None = None
    copied_chars: int | None = None
    attempt: Annotated[int, Field(ge=1)] | None = None
    dwell_ms: int | None = None
    properties: Properties = Field(default_factory=dict)

    @field_validator(*fields_of("event"))
    @classmethod
    def _fits_column(cls, value: int | None, info: ValidationInfo) -> int | None:
        return fits_column("event", str(info.field_name), value)

    @field_validator("event_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        if CANONICAL_UUID.fullmatch(value):
            return value  # what str(uuid.UUID(value)) would give, without building one
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("must be a UUID string, e.g. 0f8fad5b-d9cb-469f-a165-70867728950e") from None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in v.EVENT_TYPES:
            raise ValueError(f"must be one of {', '.join(sorted(v.EVENT_TYPES))}")
        return value

    @model_validator(mode="after")
    def _rules_of_type(self) -> Self:
        errors = list(self._type_errors())
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def _type_errors(self) -> Any:
        kind = self.type
        if kind != "abandon":
            for name in ("trace_id", "message_id"):
                if getattr(self, name) is None:
                    yield f"{name}: required for type {kind}"
        for name, types in FIELDS_BY_TYPE.items():
            if kind not in types and getattr(self, name) not in (None, []):
                yield f"{name}: not allowed for type {kind} (only {', '.join(sorted(types))})"
        for name in REQUIRED_BY_TYPE.get(kind, ()):
            if getattr(self, name) is None:
                yield f"{name}: required for type {kind}"
        if kind == "thumbs" and self.value is not None:
            yield from self._thumb_errors()
        if kind == "rating" and self.value is not None:
            value = self.value
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
                yield "value: rating must be an integer from 1 to 5"

    def _thumb_errors(self) -> Any:
        if self.value not in v.THUMB_VALUES:
            yield "value: thumbs must be one of up, down, none"
            return
        allowed = {"up": v.UP_REASONS, "down": v.DOWN_REASONS, "none": frozenset()}[str(self.value)]
        for index, reason in enumerate(self.reasons):
            if reason not in allowed:
                codes = ", ".join(sorted(allowed)) or "none (a take-back has no reasons)"
                yield f"reasons.{index}: {reason!r} is not a reason for thumbs {self.value}; expected {codes}"
        if len(set(self.reasons)) != len(self.reasons):
            yield "reasons: duplicate codes"


class FeedbackEvent(BaseModel):
    """An accepted EVENT as it travels on Kafka: the Avro record ``ai.feedback.v1.FeedbackEvent``."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    tenant_id: str
    type: str
    timestamp: int
    sent_at: int | None = None
    received_at: int
    ts: int
    conversation_id: str
    trace_id: str | None = None
    message_id: str | None = None
    turn_id: str | None = None
    response_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    value: str | int | None = None
    reasons: list[str] = Field(default_factory=list)
    comment: str | None = None
    edited_text: str | None = None
    edit_distance: int | None = None
    copied_chars: int | None = None
    attempt: int | None = None
    dwell_ms: int | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    received_via: str = "http"
    redacted: list[str] = Field(default_factory=list)


class RetrievalIn(_Strict):
    doc_ids: list[Annotated[str, StringConstraints(max_length=512)]] = Field(default_factory=list, max_length=1000)
    scores: list[float] = Field(default_factory=list, max_length=1000)
    chunk_count: int | None = None
    citations_shown: int | None = None

    @field_validator(*fields_of("trace", "retrieval"))
    @classmethod
    def _fits_column(cls, value: int | None, info: ValidationInfo) -> int | None:
        return fits_column("trace", f"retrieval.{info.field_name}", value)


class ToolCallIn(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    success: bool | None = None
    latency_ms: int | None = None
    error: Annotated[str, StringConstraints(max_length=v.COMMENT_MAX)] | None = None

    @field_validator(*fields_of("trace", "tools"))
    @classmethod
    def _fits_column(cls, value: int | None, info: ValidationInfo) -> int | None:
        return fits_column("trace", f"tools.{info.field_name}", value)


ShortText = Annotated[str, StringConstraints(max_length=256)]


class TraceIn(_Strict):
    """One TRACE as an LLM backend sends it."""

    trace_id: Id
    conversation_id: Id
    message_id: Id | None = None
    response_id: Id | None = None
    turn_id: Id | None = None
    user_id: Id | None = None
    timestamp: EpochMs | None = None
    model: ShortText | None = None
    model_version: ShortText | None = None
    provider: ShortText | None = None
    deployment: ShortText | None = None
    prompt_template: ShortText | None = None
    prompt_version: ShortText | None = None
    feature: ShortText | None = None
    environment: ShortText | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int | None = None
    time_to_first_token_ms: int | None = None
    streaming: bool | None = None
    retrieval: RetrievalIn | None = None
    tools: list[ToolCallIn] = Field(default_factory=list, max_length=200)
    fallback_path: Annotated[str, StringConstraints(max_length=1024)] | None = None
    moderation_flags: list[ShortText] = Field(default_factory=list, max_length=100)
    retry_count: int | None = None
    truncated: bool | None = None
    error: Annotated[str, StringConstraints(max_length=v.COMMENT_MAX)] | None = None
    input_text: TraceText | None = None
    output_text: TraceText | None = None
    properties: Properties = Field(default_factory=dict)

    @field_validator(*fields_of("trace"))
    @classmethod
    def _fits_column(cls, value: int | None, info: ValidationInfo) -> int | None:
        return fits_column("trace", str(info.field_name), value)


class Retrieval(BaseModel):
    doc_ids: list[str] = Field(default_factory=list)
    scores: list[float] = Field(default_factory=list)
    chunk_count: int | None = None
    citations_shown: int | None = None


class ToolCall(BaseModel):
    name: str
    success: bool | None = None
    latency_ms: int | None = None
    error: str | None = None


class LlmTrace(BaseModel):
    """An accepted TRACE as it travels on Kafka: the Avro record ``ai.feedback.v1.LlmTrace``."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    trace_id: str
    tenant_id: str
    conversation_id: str
    received_at: int
    timestamp: int
    message_id: str | None = None
    response_id: str | None = None
    turn_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    model_version: str | None = None
    provider: str | None = None
    deployment: str | None = None
    prompt_template: str | None = None
    prompt_version: str | None = None
    feature: str | None = None
    environment: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int | None = None
    time_to_first_token_ms: int | None = None
    streaming: bool | None = None
    retrieval: Retrieval | None = None
    tools: list[ToolCall] = Field(default_factory=list)
    fallback_path: str | None = None
    moderation_flags: list[str] = Field(default_factory=list)
    retry_count: int | None = None
    truncated: bool | None = None
    error: str | None = None
    input_text: str | None = None
    output_text: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    redacted: list[str] = Field(default_factory=list)
