"""History for the growth bench (``make bench-growth``), loaded fast through the worker's own SQL.

The worker's fast path stages a batch in a session-local table (ClickHouse decodes the Avro into it)
and stores it with a fixed handful of ``INSERT … SELECT``s (``consumers/bulk.py``,
``consumers/bulk_traces.py``): dedupe, trace join, rejoin of waiting events, current opinions. The
loader fills those very stage tables in SQL from ``numbers()`` (no Python per row, no Avro, no
Kafka) and runs the same statements (``store_staged``), a million events at a time. So history is
written by the real write path from the stage on; that the generated stage rows equal what the
worker stores from the same records sent through Kafka is a test
(tests/integration/test_growth_history.py).

History is deterministic: event ``i`` (0 = the newest) belongs to trace ``i // 2``, three traces
per conversation, two tenants alternating by conversation; it lies ``i * step`` before the anchor,
so a larger size reaches further back, like a product that has run longer. Each chunk loads its
traces, then its events, then the chunk's late traces (one in 50: their events wait unjoined, then
the trace's arrival rejoins them and moves their opinions). Progress is kept in a file beside the
engine after each chunk: an interrupted load resumes where it stopped (a chunk run twice stores
nothing twice: the statements dedupe).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from consumers.bulk import STAGE as EVENT_STAGE
from consumers.bulk import STAGE_COLUMNS as EVENT_STAGE_COLUMNS
from consumers.bulk import BulkEventWriter
from consumers.bulk_traces import STAGE as TRACE_STAGE
from consumers.bulk_traces import STAGE_COLUMNS as TRACE_STAGE_COLUMNS
from consumers.bulk_traces import BulkTraceWriter
from runtime.clickhouse import ClickHouseTarget
from runtime.logs import configure_logging
from runtime.migrations import migrate

TENANTS = ("bench", "bench-2")
LATE_EVERY = 50  # one trace in this many arrives after its events
DAY_MS = 86_400_000


@dataclass(frozen=True)
class History:
    """What history looks like: ids start with ``prefix``; event ``i`` is ``i * step_ms`` before ``anchor_ms``."""

    anchor_ms: int
    step_ms: float
    prefix: str = "h"
    tenants: tuple[str, str] = TENANTS

    @classmethod
    def spanning(cls, events: int, days: float, prefix: str = "h", tenants: tuple[str, str] = TENANTS) -> History:
        """``events`` events over the ``days`` before the current hour."""
        anchor = int(time.time() * 1000) // 3_600_000 * 3_600_000
        return cls(anchor, days * DAY_MS / max(events, 1), prefix, tenants)


def _hex_id(prefix: str, kind: str, index: str) -> str:
    """A random-looking id (32 hex digits, like an OTel trace id): lookups by id spread over the whole
    key range, as in production, where sequential ids would cluster."""
    return f"lower(hex(sipHash128('{prefix}-{kind}', {index})))"


def _tenant(conversation: str, history: History) -> str:
    a, b = history.tenants
    return f"if({conversation} % 2 = 0, '{a}', '{b}')"


def _time(trace: str, history: History) -> str:
    """A trace's time, in ms."""
    return f"toInt64({history.anchor_ms} - {trace} * {2 * history.step_ms!r})"


def event_rows_sql(history: History, start: int, count: int) -> str:
    """The stage rows of events ``start .. start+count-1``, in ``consumers.bulk.STAGE_COLUMNS`` order."""
    p = history.prefix
    ms = f"({_time('t', history)} + 1000 + (n % 2) * 1500 + intDiv(h, 100) % 1000)"
    when = f"fromUnixTimestamp64Milli({ms}, 'UTC')"
    variant = "Variant(Int64, String)"
    thumb = "multiIf(intDiv(h, 100000) % 100 < 60, 'up', intDiv(h, 100000) % 100 < 98, 'down', 'none')"
    columns = {
        "event_id": f"toString(reinterpretAsUUID(sipHash128('{p}-e', n)))",
        "tenant_id": _tenant("c", history),
        "type": "kind",
        "timestamp": when,
        "sent_at": "CAST(NULL, 'Nullable(DateTime64(3, \\'UTC\\'))')",
        "received_at": f"fromUnixTimestamp64Milli({ms} + 150, 'UTC')",
        "ts": when,
        "conversation_id": f"concat('{p}-c', toString(c))",
        "trace_id": f"if(kind = 'abandon', NULL, {_hex_id(p, 't', 't')})",
        "message_id": f"if(kind = 'abandon', NULL, {_hex_id(p, 'm', 't')})",
        "turn_id": "CAST(NULL, 'Nullable(String)')",
        "response_id": "CAST(NULL, 'Nullable(String)')",
        "session_id": f"concat('{p}-s', toString(intDiv(t, 30)))",
        "user_id": f"concat('{p}-u', toString(cityHash64('{p}-u', c) % 200000))",
        "anonymous_id": "CAST(NULL, 'Nullable(String)')",
        "value": f"multiIf(kind = 'thumbs', CAST({thumb}, '{variant}'), "
        f"kind = 'rating', CAST(toInt64(1 + intDiv(h, 1000) % 5), '{variant}'), CAST(NULL, '{variant}'))",
        "reasons": f"if(kind = 'thumbs', multiIf({thumb} = 'up', ['useful'], {thumb} = 'down', "
        "['hallucinated', 'too_long'], []), [])",
        "comment": "multiIf(kind = 'comment', 'The answer cited the wrong policy document; please check section 4.', "
        "kind = 'rating' AND intDiv(h, 10) % 5 = 0, 'ok', NULL)",
        "edited_text": "if(kind = 'edit', 'Thanks for reaching out. Your refund was issued on Monday.', NULL)",
        "edit_distance": "if(kind = 'edit', toInt64(1 + intDiv(h, 7) % 79), NULL)",
        "copied_chars": "if(kind = 'copy', toInt64(10 + intDiv(h, 7) % 1990), NULL)",
        "attempt": "if(kind = 'regenerate', toInt64(2 + intDiv(h, 7) % 3), NULL)",
        "dwell_ms": "if(kind = 'dwell', toInt64(200 + intDiv(h, 7) % 59800), NULL)",
        "properties": "if(intDiv(h, 13) % 10 < 3, map('page', '/chat', 'locale', 'en-GB'), map())",
        "received_via": "'http'",
        "redacted": "CAST([], 'Array(String)')",
    }
    assert list(columns) == list(EVENT_STAGE_COLUMNS), "the stage's columns changed: update the loader"
    kind = (
        "multiIf(h % 100 < 22, 'thumbs', h % 100 < 30, 'rating', h % 100 < 34, 'comment', h % 100 < 38, 'edit', "
        "h % 100 < 60, 'copy', h % 100 < 70, 'regenerate', h % 100 < 76, 'rephrase', h % 100 < 80, 'abandon', 'dwell')"
    )
    return (
        f"SELECT {', '.join(f'{expr} AS {name}' for name, expr in columns.items())} "
        f"FROM (SELECT number AS n, intDiv(n, 2) AS t, intDiv(t, 3) AS c, cityHash64('{p}-g', n) AS h, "
        f"{kind} AS kind FROM numbers({start}, {count}))"
    )


def trace_rows_sql(history: History, first: int, count: int, late: bool | None = None) -> str:
    """The stage rows of traces ``first .. first+count-1`` (only the late ones, only the others, or all),
    in ``consumers.bulk_traces.STAGE_COLUMNS`` order."""
    p = history.prefix
    when = f"fromUnixTimestamp64Milli({_time('t', history)}, 'UTC')"
    columns = {
        "trace_id": _hex_id(p, "t", "t"),
        "tenant_id": _tenant("c", history),
        "conversation_id": f"concat('{p}-c', toString(c))",
        "received_at": f"fromUnixTimestamp64Milli({_time('t', history)} + latency, 'UTC')",
        "timestamp": when,
        "message_id": _hex_id(p, "m", "t"),
        "response_id": "CAST(NULL, 'Nullable(String)')",
        "turn_id": "CAST(NULL, 'Nullable(String)')",
        "user_id": f"concat('{p}-u', toString(cityHash64('{p}-u', c) % 200000))",
        "model": "if(t % 2 = 0, 'gpt-4.1', 'claude-sonnet-4')",
        "model_version": "if(t % 2 = 0, '2026-04-14', '2026-05-01')",
        "provider": "if(t % 2 = 0, 'openai', 'anthropic')",
        "deployment": "CAST(NULL, 'Nullable(String)')",
        "prompt_template": "'support'",
        "prompt_version": "concat('v', toString(1 + t % 3))",
        "feature": "'chat'",
        "environment": "'prod'",
        "input_tokens": "toInt64(50 + h % 3950)",
        "output_tokens": "toInt64(20 + intDiv(h, 7) % 1480)",
        "latency_ms": "latency",
        "time_to_first_token_ms": "toInt64(80 + intDiv(h, 11) % 820)",
        "streaming": "true",
        "retrieval": f"CAST(tuple(['kb-1', 'kb-7'], [0.82, 0.61], 2, NULL), '{TRACE_STAGE_COLUMNS['retrieval']}')",
        "tools": f"CAST(if(intDiv(h, 13) % 10 < 3, [tuple('search', intDiv(h, 17) % 10 != 0, 120, NULL)], []), "
        f"'{TRACE_STAGE_COLUMNS['tools']}')",
        "fallback_path": "CAST(NULL, 'Nullable(String)')",
        "moderation_flags": "CAST([], 'Array(String)')",
        "retry_count": "CAST(NULL, 'Nullable(Int64)')",
        "truncated": "CAST(NULL, 'Nullable(Bool)')",
        "error": "CAST(NULL, 'Nullable(String)')",
        "input_text": "concat('How do I reset my password on device ', toString(t % 1000), '?')",
        "output_text": "concat('Open Settings, then Account, then Reset password (step ', toString(t % 7), ').')",
        "properties": "CAST(map(), 'Map(String, String)')",
        "redacted": "CAST([], 'Array(String)')",
    }
    assert list(columns) == list(TRACE_STAGE_COLUMNS), "the stage's columns changed: update the loader"
    where = "" if late is None else f"WHERE (t % {LATE_EVERY} = 0) = {'true' if late else 'false'}"
    return (
        f"SELECT {', '.join(f'{expr} AS {name}' for name, expr in columns.items())} "
        f"FROM (SELECT number AS t, intDiv(t, 3) AS c, cityHash64('{p}-tr', t) AS h, "
        f"toInt64(200 + h % 8800) AS latency FROM numbers({first}, {count})) {where}"
    )


class HistoryLoader:
    """Writes history chunks into ``database`` through the worker's statements (one client session)."""

    def __init__(self, client: Client, database: str, history: History) -> None:
        self._client = client
        self._history = history
        self._events = BulkEventWriter(client, database)
        self._traces = BulkTraceWriter(client, database)

    def chunk(self, start: int, count: int) -> None:
        """Events ``start .. start+count-1`` and their traces (the late ones after the events)."""
        first = start // 2
        traces = (start + count - 1) // 2 - first + 1
        h = self._history
        self._stage_and_store(TRACE_STAGE, trace_rows_sql(h, first, traces, late=False), self._traces.store_staged)
        self._stage_and_store(EVENT_STAGE, event_rows_sql(h, start, count), self._events.store_staged)
        self._stage_and_store(TRACE_STAGE, trace_rows_sql(h, first, traces, late=True), self._traces.store_staged)

    def _stage_and_store(self, stage: str, rows: str, store: Any) -> None:
        self._client.command(f"TRUNCATE TABLE {stage}")
        self._client.command(f"INSERT INTO {stage} {rows}")
        store()


@dataclass
class Progress:
    anchor_ms: int
    step_ms: float
    loaded: int = 0

    @staticmethod
    def file(engine: Path) -> Path:
        return engine.with_name(engine.name + ".history.json")


def load(engine: str, target: int, history: History, chunk: int) -> dict[str, Any]:
    """Entry point of a spawned child (one chdb engine per process): bring the history in ``engine``
    up to ``target`` events, resuming a previous load of the same history."""
    configure_logging("console", "warning")
    path = Path(engine)
    progress_file = Progress.file(path)
    progress = Progress(history.anchor_ms, history.step_ms)
    if progress_file.exists():
        kept = Progress(**json.loads(progress_file.read_text()))
        if kept.step_ms == progress.step_ms:  # the same history, begun in an earlier hour
            progress = kept
            history = replace(history, anchor_ms=kept.anchor_ms)
    client = ClickHouseTarget(f"chdb://{path}").connect()
    started = time.perf_counter()
    added = 0
    try:
        migrate(client, "feedback")
        loader = HistoryLoader(client, "feedback", history)
        while progress.loaded < target:
            count = min(chunk, target - progress.loaded)
            loader.chunk(progress.loaded, count)
            progress.loaded += count
            added += count
            progress_file.write_text(json.dumps(asdict(progress)))
    finally:
        client.close()
    seconds = time.perf_counter() - started
    return {"loaded": progress.loaded, "added": added, "seconds": round(seconds, 1)}
