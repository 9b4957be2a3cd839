"""``POST /v1/export``: run an export inside the running pipeline (which owns the embedded engine)
and stream its rows back as NDJSON, with backpressure: a bounded queue sits between the engine's
stream and the socket, so a slow reader holds the export back instead of filling memory. Admin or
analyst key; an analyst key only ever exports its own tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from exports.filters import ExportFilters, FilterError
from exports.rows import Kind
from exports.run import export_rows, total_responses
from exports.summary import Summary
from producers.app import bearer_token
from producers.errors import BadRequest, Forbidden
from producers.keys import ApiKey, KeyKind, KeyStore, require_kind
from runtime.settings import Settings

CHUNK_BYTES = 64 * 1024
FLUSH_EVERY_S = 0.5
QUEUE_CHUNKS = 16


@dataclass(frozen=True)
class ExportRequest:
    kind: Kind
    filters: ExportFilters
    metadata: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "filters": self.filters.as_json(), "metadata": self.metadata}


def scoped(api_key: ApiKey, filters: ExportFilters) -> ExportFilters:
    """An analyst key exports its own tenant only (forced when no tenant is named); an admin key
    any tenant, or all of them."""
    require_kind(api_key, KeyKind.ADMIN, KeyKind.ANALYST)
    if api_key.kind is not KeyKind.ANALYST:
        return filters
    own = api_key.tenant or ""
    if filters.tenant is not None and filters.tenant != own:
        raise Forbidden(f"tenant: an analyst key of tenant {own!r} may only export {own!r}, not {filters.tenant!r}")
    return filters.with_tenant(own)


def engine_message(exc: Exception) -> str:
    text = str(exc).strip()
    if "UNKNOWN_DATABASE" in text or "UNKNOWN_TABLE" in text:
        return "the database has no feedback tables yet: run `feedback migrate` (or `make up`)"
    lines = [line for line in text.splitlines() if "DB::Exception" in line or line.startswith("Code:")]
    return (lines[0] if lines else text.splitlines()[0] if text else type(exc).__name__).strip()


# -- the pipeline side -------------------------------------------------------------------------


def _parse(body: Any) -> tuple[ExportRequest, bool]:
    if not isinstance(body, dict):
        raise BadRequest("body: expected a JSON object {kind, filters?, metadata?}")
    try:
        kind = Kind(str(body.get("kind")))
    except ValueError:
        raise BadRequest(f"kind: expected one of {[k.value for k in Kind]}, got {body.get('kind')!r}") from None
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise BadRequest("filters: expected an object")
    try:
        parsed = ExportFilters.from_json(filters)
    except FilterError as exc:
        raise BadRequest(str(exc)) from None
    return ExportRequest(kind, parsed, bool(body.get("metadata", True))), bool(body.get("total", False))


class ExportEndpoint:
    """``POST /v1/export`` on a running pipeline: admin or analyst key; body
    ``{kind, filters?: {tenant, since, until, model_version, prompt_version, feature}, metadata?, total?}``
    → NDJSON lines ``{"total": N}`` (when asked), ``{"row": {...}}``, ``{"progress": N}``, and
    last ``{"done": SUMMARY}`` or ``{"error": "..."}``."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self._settings = settings
        self._keys = keys

    async def handle(self, request: Request) -> Response:
        api_key = self._keys.authenticate(bearer_token(request))
        require_kind(api_key, KeyKind.ADMIN, KeyKind.ANALYST)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"body: not JSON ({exc})") from None
        export, with_total = _parse(body)
        export = ExportRequest(export.kind, scoped(api_key, export.filters), export.metadata)
        return StreamingResponse(self._stream(export, with_total), media_type="application/x-ndjson")

    async def _stream(self, export: ExportRequest, with_total: bool) -> AsyncIterator[bytes]:
        chunks: queue.Queue[bytes | None] = queue.Queue(QUEUE_CHUNKS)
        stop = threading.Event()
        thread = threading.Thread(
            target=self._produce, args=(export, with_total, chunks, stop), name="export", daemon=True
        )
        thread.start()
        try:
            while (chunk := await asyncio.to_thread(_next, chunks, stop)) is not None:
                yield chunk
        finally:
            stop.set()  # the client went away, or we are done: let the producer end

    def _produce(
        self, export: ExportRequest, with_total: bool, chunks: queue.Queue[bytes | None], stop: threading.Event
    ) -> None:
        buffer = bytearray()
        flushed = time.monotonic()

        def put(item: bytes | None) -> None:
            while not stop.is_set():
                try:
                    chunks.put(item, timeout=0.5)
                    return
                except queue.Full:
                    continue
            raise _Cancelled

        def add(item: dict[str, Any]) -> None:
            nonlocal flushed
            buffer.extend(orjson.dumps(item) + b"\n")
            if len(buffer) >= CHUNK_BYTES or time.monotonic() - flushed >= FLUSH_EVERY_S:
                put(bytes(buffer))
                buffer.clear()
                flushed = time.monotonic()

        client = None
        try:
            client = self._settings.clickhouse().connect(database=self._settings.clickhouse_database)
            summary = Summary()
            if with_total:
                add({"total": total_responses(client, export.filters)})
            rows = export_rows(
                client, export.kind, export.filters, summary, export.metadata, lambda n: add({"progress": n})
            )
            with contextlib.closing(rows):  # ends the engine's stream before the client closes
                for row in rows:
                    add({"row": row})
            add({"done": summary.as_json()})
        except _Cancelled:
            return
        except Exception as exc:  # reported to the client, who is waiting for it
            buffer.extend(orjson.dumps({"error": engine_message(exc)}) + b"\n")
        finally:
            if client is not None:
                client.close()
        with contextlib.suppress(_Cancelled):
            put(bytes(buffer))
            put(None)


class _Cancelled(Exception):
    """The client stopped reading."""


def _next(chunks: queue.Queue[bytes | None], stop: threading.Event) -> bytes | None:
    """The next chunk, or None once done (or given up on)."""
    while True:
        try:
            return chunks.get(timeout=0.5)
        except queue.Empty:
            if stop.is_set():
                return None
