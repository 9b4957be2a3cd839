"""The collector's OpenAPI 3.1 document (GET /openapi.json), generated from the pydantic models
that validate what clients send (``EventIn``, ``TraceIn``) plus the shapes of the envelopes and
answers below. A unit test checks that every route of the app is described here."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from schemas.annotations import AnnotationsEnvelope
from schemas.models import EventIn, TraceIn
from schemas.timestamps import EpochMs

VERSION = "1"
REF = "#/components/schemas/{model}"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rejected(_Doc):
    """An item refused with its reasons (``field: reason``); its valid siblings went in."""

    index: int
    event_id: str | None = Field(description="the item's event_id (trace_id for traces), when it had one")
    errors: list[str]


class Accepted(_Doc):
    """Every accepted item is acknowledged by Kafka (acks=all) before this answer."""

    accepted: int
    rejected: list[Rejected]


class Error(_Doc):
    error: str
    accepted: int | None = Field(None, description="400 on a batch with nothing valid: 0")
    rejected: list[Rejected] | None = Field(None, description="400 on a batch with nothing valid: why each failed")


class EventsEnvelope(_Doc):
    sent_at: EpochMs | None = Field(None, description="client clock at sending, to correct timestamps for skew")
    events: list[EventIn] = Field(min_length=1, max_length=1000)
    api_key: str | None = Field(None, description="for navigator.sendBeacon, which cannot set headers")


class TracesEnvelope(_Doc):
    traces: list[TraceIn] = Field(min_length=1, max_length=1000)
    api_key: str | None = None


class OtlpTraces(BaseModel):
    """An OTLP/HTTP JSON ExportTraceServiceRequest (hex trace and span ids, lowerCamelCase fields);
    GenAI spans become TRACEs as docs/contract.md describes."""

    model_config = ConfigDict(extra="allow")
    resourceSpans: list[dict[str, Any]]


class OtlpPartialSuccess(BaseModel):
    rejectedSpans: int | str = Field(description="int64: a decimal string in the protobuf JSON mapping")
    errorMessage: str = ""


class OtlpExportResponse(BaseModel):
    """ExportTraceServiceResponse; ``partialSuccess`` only when spans were rejected."""

    partialSuccess: OtlpPartialSuccess | None = None


class QueryRequest(_Doc):
    sql: str = Field(description="one read-only SELECT")
    api_key: str | None = None


class QueryResult(_Doc):
    columns: list[str]
    rows: list[list[Any]]


class AnnotationRejected(_Doc):
    """An annotation refused with its reasons (``field: reason``, or ``item_id: not in queue ...``)."""

    index: int
    item_id: str | None
    errors: list[str]


class AnnotationsStored(_Doc):
    """Every accepted annotation is stored before this answer."""

    accepted: int
    rejected: list[AnnotationRejected]


class AnnotationsError(_Doc):
    error: str
    accepted: int | None = Field(None, description="400 when nothing was valid: 0")
    rejected: list[AnnotationRejected] | None = Field(None, description="400 when nothing was valid: why each failed")


class ForgetRequest(_Doc):
    tenant: str | None = Field(
        None, description="the tenant (required with the admin key; a secret key: its own, may be left out)"
    )
    user: str = Field(min_length=1, max_length=128, description="the user_id to erase")
    api_key: str | None = None


class ForgetResult(_Doc):
    """What was removed: every row of the user, of their conversations and of their responses."""

    tenant: str
    user: str
    requested_at: str = Field(description="ISO 8601, UTC")
    requested_by: str = Field(description="secret:<tenant> or admin")
    conversations: int = Field(description="the user's conversations erased")
    removed: dict[str, int] = Field(description="per table (events, traces, opinions, ...): how many were removed")


class Health(_Doc):
    status: str
    kafka: str | None = None


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    body: dict[str, list[type[BaseModel]]] = field(default_factory=dict)
    responses: Responses = field(default_factory=dict)
    secured: bool = True


JSON = "application/json"
PROTOBUF = "application/x-protobuf"
Responses = dict[int, dict[str, type[BaseModel] | None]]
ERRORS: Responses = {status: {JSON: Error} for status in (400, 401, 403, 408, 413, 429, 503)}
PREFLIGHT: Responses = {204: {}}

OPERATIONS = [
    Operation(
        "/v1/events",
        "post",
        "Send feedback events (a batch or one bare EVENT); public or secret key",
        {JSON: [EventsEnvelope, EventIn]},
        {202: {JSON: Accepted}, **ERRORS},
    ),
    Operation(
        "/v1/traces",
        "post",
        "Send TRACEs (a batch or one bare TRACE), or an OTLP/HTTP trace export (protobuf or JSON); secret key",
        {JSON: [TracesEnvelope, TraceIn, OtlpTraces], PROTOBUF: []},
        {
            200: {JSON: OtlpExportResponse, PROTOBUF: None},
            202: {JSON: Accepted},
            **{status: {JSON: Error, PROTOBUF: None} for status in ERRORS},
        },
    ),
    Operation(
        "/v1/query",
        "post",
        "Run one read-only SQL statement; admin key (every tenant) or analyst key (its tenant's rows only)",
        {JSON: [QueryRequest]},
        {200: {JSON: QueryResult}, **ERRORS},
    ),
    Operation(
        "/v1/annotations",
        "post",
        "Store reviewers' labels on queued items (latest per item and annotator wins); secret key",
        {JSON: [AnnotationsEnvelope]},
        {200: {JSON: AnnotationsStored}, **{status: {JSON: AnnotationsError} for status in ERRORS}},
    ),
    Operation(
        "/v1/forget",
        "post",
        "Erase one user of a tenant from every table, for good (a replay never restores them); "
        "secret key (its tenant) or admin key",
        {JSON: [ForgetRequest]},
        {200: {JSON: ForgetResult}, **ERRORS},
    ),
    Operation("/v1/events", "options", "CORS preflight", responses=PREFLIGHT, secured=False),
    Operation("/v1/traces", "options", "CORS preflight", responses=PREFLIGHT, secured=False),
    Operation("/healthz", "get", "Alive", responses={200: {JSON: Health}}, secured=False),
    Operation("/readyz", "get", "Kafka reachable", responses={200: {JSON: Health}, 503: {JSON: Health}}, secured=False),
    Operation("/metrics", "get", "Prometheus metrics", responses={200: {"text/plain": None}}, secured=False),
    Operation("/openapi.json", "get", "This document", responses={200: {JSON: None}}, secured=False),
]

DESCRIPTIONS = {
    200: "OK",
    202: "Accepted: every accepted item is acknowledged by Kafka",
    204: "No content",
    400: "Body unparsable, or nothing valid in it",
    401: "Missing or unknown API key",
    403: "Key kind or origin not allowed",
    408: "The body did not arrive whole in time (FEEDBACK_HTTP_BODY_TIMEOUT_S)",
    413: "Body over the size limit, or too many items",
    429: "Rate limited; retry after Retry-After seconds",
    503: "Not durably handed to Kafka (or not ready); retry after Retry-After seconds",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait before retrying"}}


@cache
def document() -> dict[str, Any]:
    models = sorted(
        {m for op in OPERATIONS for ms in op.body.values() for m in ms}
        | {m for op in OPERATIONS for content in op.responses.values() for m in content.values() if m is not None},
        key=lambda m: m.__name__,
    )
    refs, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template=REF, title="feedback-pipeline collector"
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        spec: dict[str, Any] = {"summary": op.summary, "responses": {}}
        if op.secured:
            spec["security"] = [{"bearer": []}]
        if op.body:
            spec["requestBody"] = {
                "required": True,
                "content": {media: {"schema": _body_schema(ms, refs, media)} for media, ms in op.body.items()},
            }
        for status, content in op.responses.items():
            answer: dict[str, Any] = {"description": DESCRIPTIONS[status]}
            if content:
                answer["content"] = {media: {"schema": _schema(m, refs, media)} for media, m in content.items()}
            if status in (429, 503):
                answer["headers"] = RETRY_AFTER
            spec["responses"][str(status)] = answer
        paths.setdefault(op.path, {})[op.method] = spec
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "feedback-pipeline collector",
            "version": VERSION,
            "description": "Auth: Authorization: Bearer KEY, or api_key in a JSON body. Bodies may be "
            "Content-Encoding: gzip; JSON bodies may be sent as text/plain (navigator.sendBeacon).",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


# Bodies this document does not describe field by field, by media type.
OPAQUE = {
    PROTOBUF: {"type": "string", "format": "binary", "description": "an OTLP protobuf message"},
    JSON: {"type": "object"},
    "text/plain": {"type": "string"},
}


def _schema(model: type[BaseModel] | None, refs: dict[Any, Any], media: str) -> dict[str, Any]:
    return dict(OPAQUE[media]) if model is None else dict(refs[(model, "validation")])


def _body_schema(models: list[type[BaseModel]], refs: dict[Any, Any], media: str) -> dict[str, Any]:
    if len(models) == 1:
        return _schema(models[0], refs, media)
    if not models:
        return _schema(None, refs, media)
    return {"anyOf": [_schema(m, refs, media) for m in models]}
