"""The collector's HTTP API (docs/contract.md §3) as a Starlette app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from producers import cors, openapi, otlp
from producers.annotations import AnnotationSink, annotation_items, validate
from producers.client_address import client_address
from producers.delivery import Acks, DeliveryProducer, Outgoing
from producers.errors import (
    BadRequest,
    CollectorError,
    Forbidden,
    RequestTimeout,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from producers.forget import Forget, forget_request
from producers.intake import (
    Intake,
    Record,
    Rejection,
    accept_events,
    accept_traces,
    decompress,
    items_of,
    parse_body,
)
from producers.keys import ApiKey, KeyKind, KeyStore, require_kind
from producers.metrics import ACCEPTED, CONTENT_TYPE, IN_FLIGHT, REJECTED, REQUESTS, exposition, rejected_field
from producers.query import QueryService, scope_of
from producers.ratelimit import RequestLimits
from producers.record_redaction import RecordRedaction
from runtime.kafka import max_item_bytes
from runtime.settings import Settings
from schemas.serde import AvroEncoder
from schemas.vocabulary import EVENT_TYPES, SUBJECT_OF_TOPIC_KIND, WORKER_TOPIC_KINDS, topic_kind

log = structlog.get_logger(__name__)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=str)


def message_key(record: Record) -> bytes:
    """Tenant and conversation: one conversation's traces and signals share a partition."""
    return f"{record['tenant_id']}/{record['conversation_id']}".encode()


@dataclass(slots=True)
class Sent:
    """What a request handed to Kafka (``acks`` to wait for; ``None``: nothing) and what its answer says."""

    kind: str
    acks: Acks | None
    accepted: int
    rejected: list[dict[str, Any]]


class Collector:
    """Turns requests into Kafka messages; answers 202 only once Kafka acknowledged them."""

    def __init__(
        self,
        settings: Settings,
        keys: KeyStore,
        producer: DeliveryProducer,
        query: QueryService | None = None,
        limits: RequestLimits | None = None,
        annotations: AnnotationSink | None = None,
        forget: Forget | None = None,
        redaction: RecordRedaction | None = None,
    ) -> None:
        self.settings = settings
        self.annotations = annotations
        # Built first: a policy file that breaks a rule, or hash mode without a key, stops the start.
        self.redaction = redaction or RecordRedaction.of(settings)
        self.limits = limits or RequestLimits.of(settings)
        self.trusted_proxies = settings.trusted_proxy_networks
        self.keys = keys
        self.producer = producer
        self.query_service = query
        self.forget = forget
        self.max_item_bytes = max_item_bytes(settings.kafka_max_message_bytes)
        registry = settings.registry()
        self.topics = {kind: settings.topic(kind) for kind in WORKER_TOPIC_KINDS}
        # Each event type's topic, looked up once per type rather than routed per event.
        self.topic_of_type = {event_type: self.topics[topic_kind(event_type)] for event_type in EVENT_TYPES}
        self._accepted = {kind: ACCEPTED.labels(kind) for kind in ("event", "trace")}
        self.encoders = {
            topic: AvroEncoder(SUBJECT_OF_TOPIC_KIND[kind], registry=registry, topic=topic)
            for kind, topic in self.topics.items()
        }

    # -- request plumbing ---------------------------------------------------------------------

    async def _read_body(self, request: Request, limit: int | None = None) -> bytes:
        limit = limit or self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"body: over {limit} bytes")
        chunks = bytearray()
        timeout_s = self.settings.http_body_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                async for chunk in request.stream():
                    chunks.extend(chunk)
                    if len(chunks) > limit:
                        raise TooLarge(f"body: over {limit} bytes")
        except TimeoutError:
            raise RequestTimeout(f"body: not received whole within {timeout_s:g} s") from None
        if not chunks:
            raise BadRequest("body: empty")
        return bytes(chunks)

    async def _authorised_body(self, request: Request) -> tuple[dict[str, Any], ApiKey, str]:
        """The parsed body, the key that may send it, and how it came: ``http`` (key in the
        Authorization header) or ``beacon`` (key in the body, as navigator.sendBeacon must)."""
        raw = await self._read_body(request)
        body, body_key = parse_body(raw, request.headers.get("content-encoding"), self.settings.max_body_bytes)
        header_key = bearer_token(request)
        api_key = self.keys.authenticate(header_key or body_key)
        request.state.api_key = api_key  # CORS answers only origins this key allows
        origin = request.headers.get("origin")
        if not api_key.allows_origin(origin):
            raise Forbidden(f"origin {origin} is not allowed for this key")
        return body, api_key, "http" if header_key else "beacon"

    def _enqueue(self, kind: str, intake: Intake, topic_of: Callable[[Record], str], require_any: bool = True) -> Sent:
        """Redact, encode and hand the accepted records to Kafka; what the answer will say."""
        encoders = self.encoders
        self.redaction.records(kind, intake.records)  # before anything is encoded: no personal data reaches Kafka
        limit = self.max_item_bytes
        messages = []
        # One pass per record, names bound locally: this loop runs for every item of every request.
        for index, record in zip(intake.indexes, intake.records, strict=True):
            topic = topic_of(record)
            key, value = message_key(record), encoders[topic].encode(record)
            if len(key) + len(value) > limit:
                # Kafka would refuse it however often the client retried: reject it, not the request.
                intake.rejected.append(oversized(index, record, len(key) + len(value), limit))
                continue
            messages.append(Outgoing(topic, key, value))
        rejected: list[dict[str, Any]] = []
        if intake.rejected:
            intake.rejected.sort(key=lambda r: r.index)
            for rejection in intake.rejected:
                for error in rejection.errors:
                    REJECTED.labels(kind, rejected_field(error)).inc()
            rejected = [r.as_json() for r in intake.rejected]
        if not messages and require_any:
            raise BadRequestWithItems("nothing valid to accept", rejected)
        return Sent(kind, self.producer.enqueue(messages), len(messages), rejected)

    async def _answer(self, sent: Sent) -> Response:
        """202 once Kafka acknowledged everything ``sent`` (else Unavailable, 503)."""
        await self.producer.acknowledged(sent.acks)
        self._accepted[sent.kind].inc(sent.accepted)
        return OrjsonResponse({"accepted": sent.accepted, "rejected": sent.rejected}, status_code=202)

    def _client_address(self, request: Request) -> str | None:
        peer = request.client.host if request.client else None
        return client_address(peer, request.headers.get("x-forwarded-for"), self.trusted_proxies)

    # -- routes -------------------------------------------------------------------------------

    async def post_events(self, request: Request) -> Response:
        # The body goes straight into the call: nothing of the request's items stays referenced
        # while Kafka acknowledges (see ``DeliveryProducer.enqueue``).
        sent = self._send_events(*await self._authorised_body(request), self._client_address(request))
        return await self._answer(sent)

    def _send_events(self, body: dict[str, Any], api_key: ApiKey, via: str, address: str | None) -> Sent:
        tenant = require_kind(api_key, KeyKind.PUBLIC, KeyKind.SECRET)
        items, sent_at = items_of(body, "events", self.settings.max_items)
        self.limits.check(api_key, map(user_of, items), address)
        intake = accept_events(items, sent_at, tenant, now_ms(), via)
        topic_of_type = self.topic_of_type
        return self._enqueue("event", intake, lambda r: topic_of_type[r["type"]])

    async def post_traces(self, request: Request) -> Response:
        if otlp.is_protobuf(request.headers.get("content-type")):
            return await self.post_otlp(request)
        body, api_key, _ = await self._authorised_body(request)
        tenant = require_kind(api_key, KeyKind.SECRET)
        if otlp.is_otlp_json(body):
            return await self.post_otlp(request, body, api_key)
        items, _ = items_of(body, "traces", self.settings.max_items)
        self.limits.check(api_key, [None] * len(items))  # a trace costs the key one item, like an event
        intake = accept_traces(items, tenant, now_ms())
        topic = self.topics["traces"]
        return await self._answer(self._enqueue("trace", intake, lambda _r: topic))

    async def post_otlp(
        self, request: Request, json_body: dict[str, Any] | None = None, api_key: ApiKey | None = None
    ) -> Response:
        """An OTLP/HTTP trace export, protobuf or JSON: GenAI spans become TRACEs (producers/otlp.py).
        Answers 200 with an ExportTraceServiceResponse in the request's encoding."""
        media = otlp.JSON if json_body is not None else otlp.PROTOBUF
        try:
            if json_body is None:
                limit = self.settings.otlp_max_body_bytes
                raw = await self._read_body(request, limit)
                api_key = self.keys.authenticate(bearer_token(request))
                raw = decompress(raw, request.headers.get("content-encoding"), limit)
                export = otlp.from_protobuf(raw)
            else:
                export = otlp.from_json(json_body)
            if api_key is None:
                raise Unauthorized("missing API key")
            tenant = require_kind(api_key, KeyKind.SECRET)
            mapped = otlp.traces_of(export)
            self.limits.check(api_key, [None] * len(mapped.items))
            if len(mapped.items) > self.settings.max_items:
                raise TooLarge(f"resourceSpans: {len(mapped.items)} traces, at most {self.settings.max_items}")
            intake = accept_traces(mapped.items, tenant, now_ms())
            await self._answer(self._enqueue("trace", intake, lambda _r: self.topics["traces"], require_any=False))
            for rejection in intake.rejected:  # invalid, or too large for one Kafka message
                mapped.rejected_spans += mapped.span_counts[rejection.index]
                mapped.errors.append(f"trace {rejection.event_id}: {otlp.explained(rejection.errors)}")
        except CollectorError as exc:
            if json_body is not None:
                raise
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
            return Response(otlp.error_body(exc), exc.status, headers, media_type=media)
        body = otlp.response_body(mapped.rejected_spans, mapped.errors, as_json=json_body is not None)
        return Response(body, media_type=media)

    async def post_query(self, request: Request) -> Response:
        body, api_key, _ = await self._authorised_body(request)
        require_kind(api_key, KeyKind.ADMIN, KeyKind.ANALYST)
        if self.query_service is None:
            raise Unavailable("this collector has no ClickHouse configured for queries", retry_after=60)
        result = await run_in_threadpool(self.query_service.run, body.get("sql"), scope_of(api_key))
        return OrjsonResponse(result)

    async def post_annotations(self, request: Request) -> Response:
        """Reviewers' labels (producers/annotations.py): secret key; 200 once the accepted are stored."""
        body, api_key, _ = await self._authorised_body(request)
        tenant = require_kind(api_key, KeyKind.SECRET)
        items = annotation_items(body)
        if self.annotations is None:
            raise Unavailable("this collector has no ClickHouse configured for annotations", retry_after=60)
        self.limits.check(api_key, [None] * len(items))
        checked = validate(items)
        try:
            refused = await run_in_threadpool(self.annotations.store, tenant, checked.items, now_ms(), "http")
        except Exception as exc:  # the store is ClickHouse: its outage is "try again", not a 500
            log.warning("annotations.store_failed", tenant=tenant, error=str(exc).splitlines()[0] if str(exc) else "")
            raise Unavailable("annotations: not stored, ClickHouse did not take them; retry", retry_after=5) from exc
        rejected = sorted([*checked.rejected, *refused], key=lambda r: r.index)
        for rejection in rejected:
            for error in rejection.errors:
                REJECTED.labels("annotation", rejected_field(error)).inc()
        accepted = len(items) - len(rejected)
        if not accepted:
            raise BadRequestWithItems("nothing valid to accept", [r.as_json() for r in rejected])
        ACCEPTED.labels("annotation").inc(accepted)
        return OrjsonResponse({"accepted": accepted, "rejected": [r.as_json() for r in rejected]})

    async def post_forget(self, request: Request) -> Response:
        body, api_key, _ = await self._authorised_body(request)
        tenant, user, requested_by = forget_request(api_key, body)
        if self.forget is None:
            raise Unavailable("this collector has no ClickHouse configured to erase from", retry_after=60)
        try:
            result = await run_in_threadpool(self.forget, tenant, user, requested_by)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return OrjsonResponse(result)

    async def healthz(self, _request: Request) -> Response:
        return OrjsonResponse({"status": "ok"})

    async def readyz(self, _request: Request) -> Response:
        if await run_in_threadpool(self.producer.reachable):
            return OrjsonResponse({"status": "ready", "kafka": "reachable"})
        return OrjsonResponse({"status": "not ready", "kafka": "unreachable"}, status_code=503)

    async def metrics(self, _request: Request) -> Response:
        return Response(exposition(), media_type=CONTENT_TYPE)


class BadRequestWithItems(BadRequest):
    def __init__(self, message: str, rejected: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.rejected = rejected


def oversized(index: int, record: Record, size: int, limit: int) -> Rejection:
    item_id = record.get("event_id") or record.get("trace_id")
    reason = f"item: {size} bytes once encoded, over the limit of {limit} bytes per item (one Kafka message)"
    return Rejection(index, [reason], item_id)


def user_of(item: Any) -> str | None:
    """Who an item is about, for the per-user limit: its user, else its session."""
    if not isinstance(item, dict):
        return None
    who = item.get("user_id") or item.get("session_id")
    return who if isinstance(who, str) else None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def error_response(exc: CollectorError) -> Response:
    content: dict[str, Any] = {"error": exc.message}
    if isinstance(exc, BadRequestWithItems):
        content.update(accepted=0, rejected=exc.rejected)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    if isinstance(exc, RequestTimeout):
        headers["Connection"] = "close"  # the rest of the body may still come: do not read it as a request
    return OrjsonResponse(content, status_code=exc.status, headers=headers)


def instrumented(route: str, handler: Handler, with_cors: bool = False) -> Handler:
    """Errors become their HTTP answers; every request is counted; browsers get CORS headers."""

    async def endpoint(request: Request) -> Response:
        if with_cors and request.method == "OPTIONS":
            return cors.preflight(request, request.app.state.keys)
        IN_FLIGHT.inc()
        try:
            response = await handler(request)
        except CollectorError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("collector.unhandled", route=route)
            response = OrjsonResponse({"error": "internal error"}, status_code=500)
        finally:
            IN_FLIGHT.dec()
        REQUESTS.labels(route, str(response.status_code)).inc()
        if not with_cors:
            return response
        return cors.allow_origin(response, request.headers.get("origin"), getattr(request.state, "api_key", None))

    return endpoint


def create_app(
    collector: Collector,
    static_root: Path | None = None,
    extra_routes: list[Route] | None = None,
    operator_endpoints: Mapping[str, Handler] | None = None,
) -> Starlette:
    """The collector's app. ``operator_endpoints`` (path → handler: replay, rejoin, export) are
    POST endpoints wired in by the CLI, wrapped here like every other endpoint (errors become their
    answers, every request is counted)."""
    operated = [
        Route(path, instrumented(path, handler), methods=["POST"])
        for path, handler in (operator_endpoints or {}).items()
    ]
    routes: list[Route | Mount] = [
        *(extra_routes or []),
        *operated,
        Route("/v1/events", instrumented("/v1/events", collector.post_events, True), methods=["POST", "OPTIONS"]),
        Route("/v1/traces", instrumented("/v1/traces", collector.post_traces, True), methods=["POST", "OPTIONS"]),
        Route("/v1/query", instrumented("/v1/query", collector.post_query), methods=["POST"]),
        Route("/v1/annotations", instrumented("/v1/annotations", collector.post_annotations), methods=["POST"]),
        Route("/v1/forget", instrumented("/v1/forget", collector.post_forget), methods=["POST"]),
        Route("/healthz", collector.healthz, methods=["GET"]),
        Route("/readyz", collector.readyz, methods=["GET"]),
        Route("/metrics", collector.metrics, methods=["GET"]),
        Route("/openapi.json", lambda _r: OrjsonResponse(openapi.document()), methods=["GET"]),
    ]
    if static_root is not None:
        static = (
            ("/demo", static_root / "demo"),
            ("/dashboard", static_root / "dist" / "dashboard"),
            ("/sdk", static_root / "dist"),
        )
        for prefix, folder in static:
            if folder.is_dir():
                routes.append(Mount(prefix, app=StaticFiles(directory=folder, html=True), name=prefix.strip("/")))
    app = Starlette(routes=routes)
    app.state.keys = collector.keys  # for CORS preflights, which carry no key
    return app
