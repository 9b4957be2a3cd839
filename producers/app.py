"""The collector's HTTP API (docs/contract.md §3) as a Starlette app."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from producers import cors
from producers.delivery import DeliveryProducer, Outgoing
from producers.errors import BadRequest, CollectorError, Forbidden, TooLarge, Unavailable
from producers.intake import Intake, Record, accept_events, accept_traces, items_of, parse_body
from producers.keys import ApiKey, KeyKind, KeyStore, require_kind
from producers.metrics import ACCEPTED, IN_FLIGHT, REJECTED, REQUESTS
from producers.query import QueryService, scope_of
from producers.ratelimit import RateLimiter, RequestLimits
from runtime.settings import Settings
from schemas.serde import AvroEncoder
from schemas.vocabulary import topic_kind

log = structlog.get_logger(__name__)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=str)


def message_key(record: Record) -> bytes:
    """Tenant and conversation: one conversation's traces and signals share a partition."""
    return f"{record['tenant_id']}/{record['conversation_id']}".encode()


class Collector:
    """Turns requests into Kafka messages; answers 202 only once Kafka acknowledged them."""

    def __init__(
        self,
        settings: Settings,
        keys: KeyStore,
        producer: DeliveryProducer,
        query: QueryService | None = None,
        limits: RequestLimits | None = None,
    ) -> None:
        self.settings = settings
        self.limits = limits or RequestLimits(
            RateLimiter(settings.rate_limit_key_per_s, settings.rate_limit_key_burst),
            RateLimiter(settings.rate_limit_user_per_s, settings.rate_limit_user_burst),
        )
        self.keys = keys
        self.producer = producer
        self.query_service = query
        registry = settings.registry()
        self.topics = {kind: settings.topic(kind) for kind in ("explicit", "implicit", "traces")}
        self.encoders = {
            topic: AvroEncoder("trace" if kind == "traces" else "event", registry=registry, topic=topic)
            for kind, topic in self.topics.items()
        }

    # -- request plumbing ---------------------------------------------------------------------

    async def _read_body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"body: over {limit} bytes")
        chunks = bytearray()
        async for chunk in request.stream():
            chunks.extend(chunk)
            if len(chunks) > limit:
                raise TooLarge(f"body: over {limit} bytes")
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
        origin = request.headers.get("origin")
        if not api_key.allows_origin(origin):
            raise Forbidden(f"origin {origin} is not allowed for this key")
        return body, api_key, "http" if header_key else "beacon"

    async def _produce(self, kind: str, intake: Intake, topic_of: Callable[[Record], str]) -> Response:
        for rejection in intake.rejected:
            for error in rejection.errors:
                REJECTED.labels(kind, error.split(":", 1)[0].split(".", 1)[0]).inc()
        rejected = [r.as_json() for r in intake.rejected]
        if not intake.records:
            raise BadRequestWithItems("nothing valid to accept", rejected)
        encoders = self.encoders
        messages = []
        for record in intake.records:
            topic = topic_of(record)
            messages.append(Outgoing(topic, message_key(record), encoders[topic].encode(record)))
        await self.producer.send(messages)
        ACCEPTED.labels(kind).inc(len(messages))
        return OrjsonResponse({"accepted": len(messages), "rejected": rejected}, status_code=202)

    # -- routes -------------------------------------------------------------------------------

    async def post_events(self, request: Request) -> Response:
        body, api_key, via = await self._authorised_body(request)
        tenant = require_kind(api_key, KeyKind.PUBLIC, KeyKind.SECRET)
        items, sent_at = items_of(body, "events", self.settings.max_items)
        self.limits.check(api_key.key, tenant, map(user_of, items))
        intake = accept_events(items, sent_at, tenant, now_ms(), via)
        topics = self.topics
        return await self._produce("event", intake, lambda r: topics[topic_kind(r["type"])])

    async def post_traces(self, request: Request) -> Response:
        body, api_key, _ = await self._authorised_body(request)
        tenant = require_kind(api_key, KeyKind.SECRET)
        items, _ = items_of(body, "traces", self.settings.max_items)
        self.limits.check(api_key.key, tenant, ())
        intake = accept_traces(items, tenant, now_ms())
        topic = self.topics["traces"]
        return await self._produce("trace", intake, lambda _r: topic)

    async def post_query(self, request: Request) -> Response:
        body, api_key, _ = await self._authorised_body(request)
        require_kind(api_key, KeyKind.ADMIN, KeyKind.ANALYST)
        if self.query_service is None:
            raise Unavailable("this collector has no ClickHouse configured for queries", retry_after=60)
        result = await run_in_threadpool(self.query_service.run, body.get("sql"), scope_of(api_key))
        return OrjsonResponse(result)

    async def healthz(self, _request: Request) -> Response:
        return OrjsonResponse({"status": "ok"})

    async def readyz(self, _request: Request) -> Response:
        if await run_in_threadpool(self.producer.reachable):
            return OrjsonResponse({"status": "ready", "kafka": "reachable"})
        return OrjsonResponse({"status": "not ready", "kafka": "unreachable"}, status_code=503)

    async def metrics(self, _request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class BadRequestWithItems(BadRequest):
    def __init__(self, message: str, rejected: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.rejected = rejected


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
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return OrjsonResponse(content, status_code=exc.status, headers=headers)


def instrumented(route: str, handler: Handler, with_cors: bool = False) -> Handler:
    """Errors become their HTTP answers; every request is counted; browsers get CORS headers."""

    async def endpoint(request: Request) -> Response:
        if with_cors and request.method == "OPTIONS":
            return cors.preflight(request)
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
        return cors.allow_origin(response, request.headers.get("origin")) if with_cors else response

    return endpoint


def create_app(
    collector: Collector,
    static_root: Path | None = None,
    extra_routes: list[Route] | None = None,
) -> Starlette:
    routes: list[Route | Mount] = [
        *(extra_routes or []),
        Route("/v1/events", instrumented("/v1/events", collector.post_events, True), methods=["POST", "OPTIONS"]),
        Route("/v1/traces", instrumented("/v1/traces", collector.post_traces, True), methods=["POST", "OPTIONS"]),
        Route("/v1/query", instrumented("/v1/query", collector.post_query), methods=["POST"]),
        Route("/healthz", collector.healthz, methods=["GET"]),
        Route("/readyz", collector.readyz, methods=["GET"]),
        Route("/metrics", collector.metrics, methods=["GET"]),
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
    return Starlette(routes=routes)
