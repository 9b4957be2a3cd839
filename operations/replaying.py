"""``feedback replay``: here, or through the running pipeline that owns the embedded engine.

In embedded mode a running ``feedback up`` holds the engine (chdb allows one process per path),
so the CLI asks its collector (``POST /v1/replay``, admin key) to run the replay in that process
and streams the progress back as NDJSON — the live workers go on undisturbed either way.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from feedback.erasure import carry_erasures
from feedback.remote import error_of
from operations.positions import Position
from operations.replay import ReplayStats, Slice, plan_slice, replay
from producers.app import bearer_token
from producers.keys import KeyKind, KeyStore, require_kind
from runtime.migrations import migrate
from runtime.settings import Settings


def plan(settings: Settings, topic: str, start: str, end: str | None, partition: int | None) -> list[Slice]:
    """The slices to read, one per topic, in order; ValueError names the bad option."""
    now = int(time.time() * 1000)
    first = Position.parse(start, now, "--from")
    last = Position.parse(end, now, "--to") if end else None
    names = settings.topics_named(topic)
    if not names:
        raise ValueError("--topic: name at least one topic")
    return [plan_slice(settings, name, first, last, partition) for name in names]


def summary(topic: str, stats: ReplayStats) -> str:
    if stats.forwarded:
        return f"{topic}: read {stats.messages}, forwarded {stats.forwarded} to the live workers (each stored once)"
    rejoined = f", {stats.rejoined} stored event(s) joined to their trace" if stats.rejoined else ""
    return (
        f"{topic}: read {stats.messages}, stored {stats.stored} new, "
        f"{stats.duplicates} already stored, {stats.invalid} invalid{rejoined}"
        + (f", {stats.erased} of erased users dropped" if stats.erased else "")
    )


def run_here(
    settings: Settings, slices: list[Slice], database: str, on_slice: Callable[[Slice], Callable[[int], None]]
) -> Iterator[tuple[Slice, ReplayStats]]:
    client = settings.clickhouse().connect()
    migrate(client, database, cluster=settings.clickhouse_cluster, retention_days=settings.retention_days)
    # a database rebuilt from the topics must not restore anyone erased from the live one
    carry_erasures(client, settings.clickhouse_database, database)
    for part in slices:
        yield part, replay(settings, client, database, part, on_progress=on_slice(part))


class ReplayEndpoint:
    """``POST /v1/replay`` on a running pipeline: admin key; body {topic, from, to?, partition?, database?}."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self._settings = settings
        self._keys = keys

    async def handle(self, request: Request) -> Response:
        require_kind(self._keys.authenticate(bearer_token(request)), KeyKind.ADMIN)
        try:
            body = await request.json()
            slices = await asyncio.to_thread(
                plan, self._settings, str(body["topic"]), str(body["from"]), body.get("to"), body.get("partition")
            )
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        database = body.get("database") or self._settings.clickhouse_database
        return StreamingResponse(self._stream(slices, database), media_type="application/x-ndjson")

    async def _stream(self, slices: list[Slice], database: str) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def put(item: dict[str, Any] | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            def on_slice(part: Slice) -> Callable[[int], None]:
                put({"slice": part.topic, "total": part.total})
                return lambda count: put({"progress": count})

            try:
                for part, stats in run_here(self._settings, slices, database, on_slice):
                    put({"done": part.topic, "stats": asdict(stats)})
            except Exception as exc:  # reported to the client, who is waiting for it
                put({"error": str(exc)})
            finally:
                put(None)

        threading.Thread(target=work, name="replay", daemon=True).start()
        while (item := await queue.get()) is not None:
            yield json.dumps(item).encode() + b"\n"


def run_remote(
    http_addr: str,
    admin_key: str,
    request: dict[str, Any],
    on_slice: Callable[[str, int], Callable[[int], None]],
    on_done: Callable[[str, ReplayStats], None],
) -> None:
    """Ask the running pipeline to replay; raises RuntimeError with its error."""
    advance: Callable[[int], None] = lambda _n: None  # noqa: E731
    with httpx.stream(
        "POST",
        f"http://{http_addr}/v1/replay",
        json=request,
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=httpx.Timeout(30, read=None),
    ) as response:
        if response.status_code != 200:
            raise RuntimeError(error_of(response))
        for line in response.iter_lines():
            if not line.strip():
                continue
            item = json.loads(line)
            if "slice" in item:
                advance = on_slice(item["slice"], item["total"])
            elif "progress" in item:
                advance(item["progress"])
            elif "done" in item:
                on_done(item["done"], ReplayStats(**item["stats"]))
            elif "error" in item:
                raise RuntimeError(item["error"])
