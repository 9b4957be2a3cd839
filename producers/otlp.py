"""OTLP/HTTP trace exports → TRACE items (README, "For backend teams": the attribute table).

An LLM backend instrumented with the OpenTelemetry GenAI semantic conventions points its OTLP
exporter at the collector. Each OTel trace in an export request with at least one GenAI span
becomes one TRACE: its top GenAI span that ended last is *the response* (model, ids, text,
error); token counts fall back to the sum over the other GenAI spans; ``execute_tool`` spans
become its tool calls. Spans of other kinds are ignored, as the OTLP spec allows.
Our own ids ride in ``feedback.*`` attributes on the span or the resource (``ATTRIBUTES``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.json_format import MessageToJson, ParseDict, ParseError
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from producers.errors import BadRequest, CollectorError
from schemas import vocabulary as v

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

TOOL_OPERATION = "execute_tool"
# GenAI operations that produce no response a user could rate: never a TRACE of their own
# (an embeddings-only indexing trace is ignored), though retrieval spans still feed `retrieval`.
AUXILIARY_OPERATIONS = frozenset({"embeddings", "retrieval", "create_agent"})
# A span is a GenAI span when it carries one of these (older instrumentations set only gen_ai.system).
GENAI_MARKERS = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system")

# TRACE field ← attribute names, first present wins; looked up on the response span, then the
# trace's other GenAI spans (latest first), then the resource. Documented in docs/contract.md.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "trace_id": ("feedback.trace_id",),
    "conversation_id": ("gen_ai.conversation.id", "feedback.conversation_id"),
    "message_id": ("feedback.message_id",),
    "response_id": ("feedback.response_id", "gen_ai.response.id"),
    "turn_id": ("feedback.turn_id",),
    "user_id": ("feedback.user_id", "user.id", "enduser.id"),
    "model": ("gen_ai.request.model", "gen_ai.response.model"),
    "model_version": ("feedback.model_version",),
    "provider": ("gen_ai.provider.name", "gen_ai.system"),
    "deployment": ("feedback.deployment", "service.version"),
    "prompt_template": ("feedback.prompt_template", "gen_ai.prompt.name"),
    "prompt_version": ("feedback.prompt_version",),
    "feature": ("feedback.feature",),
    "environment": ("feedback.environment", "deployment.environment.name", "deployment.environment"),
    "streaming": ("feedback.streaming", "gen_ai.request.stream"),
    "fallback_path": ("feedback.fallback_path",),
    "moderation_flags": ("feedback.moderation_flags",),
    "retry_count": ("feedback.retry_count",),
    "truncated": ("feedback.truncated",),
}
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
TTFT_MS = "feedback.time_to_first_token_ms"
TTFT_S = "gen_ai.response.time_to_first_chunk"  # seconds, per the GenAI conventions
RETRIEVAL = {
    "doc_ids": "feedback.retrieval.doc_ids",
    "scores": "feedback.retrieval.scores",
    "chunk_count": "feedback.retrieval.chunk_count",
    "citations_shown": "feedback.retrieval.citations_shown",
}
RETRIEVAL_DOCUMENTS = "gen_ai.retrieval.documents"  # [{"id": ..., "score": ...}]
PROPERTY_PREFIX = "feedback.properties."
# Message content: the current attributes (on the span or on an event such as
# gen_ai.client.inference.operation.details), then the older gen_ai.prompt / gen_ai.completion.
INPUT_MESSAGES = ("gen_ai.input.messages", "gen_ai.prompt")
OUTPUT_MESSAGES = ("gen_ai.output.messages", "gen_ai.completion")


Attributes = dict[str, Any]


@dataclass
class SpanView:
    """One span with its attributes decoded, and the attributes of the resource that sent it."""

    span: Span
    attributes: Attributes
    resource: Attributes

    @property
    def operation(self) -> str | None:
        value = self.attributes.get("gen_ai.operation.name")
        return value if isinstance(value, str) else None

    @property
    def is_genai(self) -> bool:
        return any(marker in self.attributes for marker in GENAI_MARKERS)

    @property
    def failed(self) -> bool:
        return self.span.status.code == Status.STATUS_CODE_ERROR

    def error(self) -> str | None:
        if not self.failed:
            return None
        reason = self.span.status.message or self.attributes.get("error.type") or "error"
        return str(reason)[: v.COMMENT_MAX]

    def duration_ms(self) -> int:
        return max(0, self.span.end_time_unix_nano - self.span.start_time_unix_nano) // 1_000_000


@dataclass
class Mapped:
    """TRACE items made from a request, how many spans each stands for, and spans refused outright."""

    items: list[dict[str, Any]] = field(default_factory=list)
    span_counts: list[int] = field(default_factory=list)
    rejected_spans: int = 0
    errors: list[str] = field(default_factory=list)


# -- decoding ---------------------------------------------------------------------------------


def is_protobuf(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == PROTOBUF


def is_otlp_json(body: dict[str, Any]) -> bool:
    return "resourceSpans" in body or "resource_spans" in body


def from_protobuf(raw: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(raw)
    except DecodeError as exc:
        raise BadRequest(f"body: not a valid OTLP ExportTraceServiceRequest ({exc})") from None
    return request


def from_json(body: dict[str, Any]) -> ExportTraceServiceRequest:
    """OTLP JSON: the protobuf JSON mapping, except that trace and span ids are hex, not base64."""
    _ids_to_base64(body)
    try:
        return ParseDict(body, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except ParseError as exc:
        raise BadRequest(f"body: not a valid OTLP JSON ExportTraceServiceRequest ({exc})") from None


def _ids_to_base64(body: dict[str, Any]) -> None:
    for r, resource_spans in enumerate(_list(body, "resourceSpans", "resource_spans")):
        for s, scope_spans in enumerate(_list(resource_spans, "scopeSpans", "scope_spans")):
            for i, span in enumerate(_list(scope_spans, "spans")):
                path = f"resourceSpans.{r}.scopeSpans.{s}.spans.{i}"
                _hex_fields(span, path)
                for k, link in enumerate(_list(span, "links")):
                    _hex_fields(link, f"{path}.links.{k}")


def _list(parent: Any, *names: str) -> list[Any]:
    if not isinstance(parent, dict):
        return []
    for name in names:
        value = parent.get(name)
        if isinstance(value, list):
            return value
    return []


def _hex_fields(span: Any, path: str) -> None:
    if not isinstance(span, dict):
        return
    for name in ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"):
        value = span.get(name)
        if isinstance(value, str) and value:
            try:
                span[name] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                raise BadRequest(f"{path}.{name}: expected a hex id, got {value[:40]!r}") from None


def response_body(rejected_spans: int, errors: list[str], as_json: bool) -> bytes:
    """ExportTraceServiceResponse; ``partial_success`` only when something was rejected (OTLP spec)."""
    response = ExportTraceServiceResponse()
    if rejected_spans:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = "; ".join(errors)[:4000]
    if as_json:
        return MessageToJson(response, indent=None).encode()
    return response.SerializeToString()


# The gRPC code an OTLP error Status carries for each HTTP status we answer with.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 413: 8, 429: 8, 503: 14}


def error_body(exc: CollectorError) -> bytes:
    """An error answer to a protobuf export: a google.rpc.Status, as the OTLP/HTTP spec asks."""
    status: Message = RpcStatus(code=GRPC_CODES.get(exc.status, 13), message=exc.message)
    return status.SerializeToString()


# -- mapping ----------------------------------------------------------------------------------


def traces_of(request: ExportTraceServiceRequest) -> Mapped:
    """One TRACE item per OTel trace with GenAI spans in this request (see the module doc)."""
    by_trace: dict[bytes, list[SpanView]] = {}
    spans: dict[tuple[bytes, bytes], SpanView] = {}
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                view = SpanView(span, attributes_of(span.attributes), resource)
                spans[(span.trace_id, span.span_id)] = view
                if view.is_genai:
                    by_trace.setdefault(span.trace_id, []).append(view)
    mapped = Mapped()
    for trace_id, genai in by_trace.items():
        tool_spans = [s for s in genai if s.operation == TOOL_OPERATION]
        aux_spans = [s for s in genai if s.operation in AUXILIARY_OPERATIONS]
        model_spans = [s for s in genai if s.operation != TOOL_OPERATION and s.operation not in AUXILIARY_OPERATIONS]
        if model_spans:
            mapped.items.append(_trace_item(trace_id, model_spans, tool_spans, aux_spans, spans))
            mapped.span_counts.append(len(genai))
        elif tool_spans:
            # Refused, not ignored: the exporter should hear that these tool calls found no response.
            mapped.rejected_spans += len(tool_spans)
            mapped.errors.append(
                f"trace {trace_id.hex()}: execute_tool spans without their GenAI operation span in the same request"
            )
    return mapped


def explained(field_errors: list[str]) -> str:
    """``field: reason`` lines of a TRACE, each naming the attributes its field comes from."""
    lines = []
    for line in field_errors:
        name = line.split(":", 1)[0].split(".", 1)[0]
        names = ATTRIBUTES.get(name) or {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}.get(name)
        lines.append(f"{line} (from {' or '.join(names)})" if names else line)
    return "; ".join(lines)


def _trace_item(
    trace_id: bytes,
    model_spans: list[SpanView],
    tool_spans: list[SpanView],
    aux_spans: list[SpanView],
    spans: dict[tuple[bytes, bytes], SpanView],
) -> dict[str, Any]:
    model_ids = {s.span.span_id for s in model_spans}
    roots = [s for s in model_spans if not any(a.span.span_id in model_ids for a in _ancestors(s, spans))]
    response = max(roots, key=lambda s: s.span.end_time_unix_nano)
    others = sorted((s for s in model_spans if s is not response), key=lambda s: -s.span.end_time_unix_nano)
    sources = [response.attributes, *(s.attributes for s in others), response.resource]

    item: dict[str, Any] = {name: _first(sources, names) for name, names in ATTRIBUTES.items()}
    item["trace_id"] = item["trace_id"] or trace_id.hex()
    started = min(s.span.start_time_unix_nano for s in roots)
    ended = max(s.span.end_time_unix_nano for s in roots)
    item["timestamp"] = started // 1_000_000
    item["latency_ms"] = max(0, ended - started) // 1_000_000
    response_model = _first(sources, ("gen_ai.response.model",))
    if item["model_version"] is None and response_model not in (None, item["model"]):
        item["model_version"] = response_model
    item["input_tokens"] = _tokens(response, others, INPUT_TOKENS)
    item["output_tokens"] = _tokens(response, others, OUTPUT_TOKENS)
    item["time_to_first_token_ms"] = _ttft_ms(sources)
    item["retrieval"] = _retrieval([*sources, *(s.attributes for s in aux_spans)])
    item["tools"] = [
        {
            "name": str(t.attributes.get("gen_ai.tool.name") or t.span.name.removeprefix("execute_tool ").strip()),
            "success": not t.failed,
            "latency_ms": t.duration_ms(),
            "error": t.error(),
        }
        for t in sorted(tool_spans, key=lambda t: t.span.start_time_unix_nano)
    ]
    item["error"] = response.error()
    in_order = [response, *others]
    item["input_text"] = _text(in_order, INPUT_MESSAGES, last_user_only=True)
    item["output_text"] = _text(in_order, OUTPUT_MESSAGES, last_user_only=False)
    item["properties"] = {
        key.removeprefix(PROPERTY_PREFIX): str(value)
        for attributes in (response.resource, response.attributes)
        for key, value in attributes.items()
        if key.startswith(PROPERTY_PREFIX)
    }
    if isinstance(item["moderation_flags"], str):
        item["moderation_flags"] = [item["moderation_flags"]]
    # Absent stays absent: the TRACE defaults apply (empty lists, no retrieval).
    return {key: value for key, value in item.items() if value is not None and value != []}


def _ancestors(view: SpanView, spans: dict[tuple[bytes, bytes], SpanView]) -> Iterator[SpanView]:
    seen: set[bytes] = set()
    parent_id = view.span.parent_span_id
    while parent_id and parent_id not in seen:
        seen.add(parent_id)
        parent = spans.get((view.span.trace_id, parent_id))
        if parent is None:
            return
        yield parent
        parent_id = parent.span.parent_span_id


def _first(sources: Iterable[Attributes], names: Iterable[str]) -> Any:
    names = tuple(names)
    for attributes in sources:
        for name in names:
            value = attributes.get(name)
            if value is not None and value != "":
                return value
    return None


def _tokens(response: SpanView, others: list[SpanView], names: tuple[str, ...]) -> Any:
    """The response span's own count (an agent span's total), else the sum over its model calls."""
    own = _first([response.attributes], names)
    if own is not None:
        return own
    counts = [c for c in (_first([s.attributes], names) for s in others) if isinstance(c, int)]
    return sum(counts) if counts else None


def _ttft_ms(sources: list[Attributes]) -> Any:
    value = _first(sources, (TTFT_MS,))
    if value is not None:
        return value
    seconds = _first(sources, (TTFT_S,))
    return round(seconds * 1000) if isinstance(seconds, int | float) else seconds


def _retrieval(sources: list[Attributes]) -> dict[str, Any] | None:
    retrieval = {name: _first(sources, (attribute,)) for name, attribute in RETRIEVAL.items()}
    documents = _decoded(_first(sources, (RETRIEVAL_DOCUMENTS,)))
    if isinstance(documents, list) and retrieval["doc_ids"] is None:
        docs = [d for d in documents if isinstance(d, dict) and d.get("id") is not None]
        retrieval["doc_ids"] = [str(d["id"]) for d in docs]
        if all(isinstance(d.get("score"), int | float) for d in docs):
            retrieval["scores"] = [d["score"] for d in docs]
    present = {name: value for name, value in retrieval.items() if value is not None}
    return present or None


def _text(views: list[SpanView], names: tuple[str, ...], last_user_only: bool) -> str | None:
    for view in views:
        places = [view.attributes, *(attributes_of(event.attributes) for event in view.span.events)]
        raw = _first(places, names)
        if raw is None:
            continue
        text = messages_text(_decoded(raw), last_user_only)
        if text:
            return text[: v.TRACE_TEXT_MAX]
    return None


def messages_text(messages: Any, last_user_only: bool) -> str | None:
    """The text of GenAI messages (``[{"role", "parts": [{"type": "text", "content"}]}]``, or the older
    ``{"role", "content"}``); for input, the last user message when there is one."""
    if isinstance(messages, str):
        return messages
    if isinstance(messages, dict):
        messages = [messages]
    if not isinstance(messages, list):
        return None
    texts = [(m.get("role"), _message_text(m)) for m in messages if isinstance(m, dict)]
    texts = [(role, text) for role, text in texts if text]
    if last_user_only:
        users = [text for role, text in texts if role == "user"]
        if users:
            return users[-1]
    return "\n".join(text for _, text in texts) or None


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts = message.get("parts")
    if not isinstance(parts, list):
        return ""
    return "".join(
        str(part.get("content"))
        for part in parts
        if isinstance(part, dict) and part.get("type") == "text" and part.get("content") is not None
    )


def _decoded(value: Any) -> Any:
    """GenAI message and document attributes are often JSON in a string attribute."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def attributes_of(pairs: Iterable[KeyValue]) -> Attributes:
    return {pair.key: any_value(pair.value) for pair in pairs}


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    if kind == "bytes_value":
        return binascii.hexlify(value.bytes_value).decode()
    return None if kind is None else getattr(value, kind)
