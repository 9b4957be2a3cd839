"""ClickHouse I/O of the worker: what is already stored, and the inserts (one context per table)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from consumers.errors import Backpressure
from consumers.rows import EVENT_COLUMNS, TRACE_COLUMNS, TRACE_INDEX, Row, TraceDims

Key = tuple[str, str]  # (tenant_id, id)
KEYS = "{keys}"  # a literal list of (tenant, id) tuples, see key_list


def quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def key_list(keys: Iterable[Key]) -> str:
    """``(('t','a'),('t','b'))``: built here because binding tens of thousands of tuples through the
    driver's generic parameter formatting costs more than the query itself."""
    return "(" + ",".join(f"({quote(tenant)},{quote(ident)})" for tenant, ident in keys) + ")"


class ClickHouseStore:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database
        self._client = client
        self._db = database
        self._events = client.create_insert_context(f"{database}.events_log", column_names=list(EVENT_COLUMNS))
        self._traces = client.create_insert_context(f"{database}.traces_log", column_names=list(TRACE_COLUMNS))
        self._event_cols = ", ".join(EVENT_COLUMNS)
        self._trace_cols = ", ".join(TRACE_COLUMNS)

    def _rows(self, sql: str, keys: Iterable[Key]) -> list[Row]:
        wanted = list(keys)
        if not wanted:
            return []
        try:
            return [list(row) for row in self._client.query(sql.replace(KEYS, key_list(wanted))).result_rows]
        except ClickHouseError as exc:
            raise Backpressure(f"ClickHouse lookup failed: {exc}") from exc

    def stored_event_ids(self, keys: Iterable[Key]) -> set[Key]:
        rows = self._rows(
            f"SELECT tenant_id, event_id FROM {self._db}.events_log WHERE (tenant_id, event_id) IN {KEYS}",
            keys,
        )
        return {(row[0], row[1]) for row in rows}

    def stored_traces(self, keys: Iterable[Key]) -> list[Row]:
        """The current row of each trace (latest report), full width, ready to insert again."""
        rows = self._rows(
            f"SELECT {self._trace_cols} FROM {self._db}.traces_log FINAL "
            f"WHERE (tenant_id, trace_id) IN {KEYS} AND sign = 1",
            keys,
        )
        for row in rows:
            # named tuples come back as dicts; inserts take them positionally
            row[TRACE_INDEX["retrieval"]] = _positional(row[TRACE_INDEX["retrieval"]])
            row[TRACE_INDEX["tools"]] = [_positional(tool) for tool in row[TRACE_INDEX["tools"]]]
        return rows

    def trace_dims(self, keys: Iterable[Key]) -> dict[Key, TraceDims]:
        """The join dimensions of the stored traces among ``keys``."""
        rows = self._rows(
            f"SELECT tenant_id, trace_id, model, model_version, provider, prompt_template, prompt_version, "
            f"feature, latency_ms, tool_failed FROM {self._db}.traces_log FINAL "
            f"WHERE (tenant_id, trace_id) IN {KEYS} AND sign = 1",
            keys,
        )
        return {(row[0], row[1]): TraceDims(*row[2:]) for row in rows}

    def unjoined_events(self, trace_keys: Iterable[Key]) -> list[Row]:
        """Stored events still waiting for one of these traces, current version, full width.
        (``trace_id IN`` alone is what the bloom-filter index on trace_id can skip granules with.)"""
        keys = list(trace_keys)
        if not keys:
            return []
        trace_ids = "(" + ",".join(quote(trace_id) for _, trace_id in keys) + ")"
        return self._rows(
            f"SELECT {self._event_cols} FROM {self._db}.events_log FINAL "
            f"WHERE trace_id IN {trace_ids} AND (tenant_id, trace_id) IN {KEYS} AND sign = 1 AND NOT trace_joined",
            keys,
        )

    def unjoined_with_trace(self, limit: int) -> list[Row]:
        """Any stored events whose trace is stored too but which are not joined yet (for ``rejoin``)."""
        sql = (
            f"SELECT {self._event_cols} FROM {self._db}.events_log FINAL "
            f"WHERE sign = 1 AND NOT trace_joined AND trace_id IS NOT NULL "
            f"AND (tenant_id, trace_id) IN (SELECT tenant_id, trace_id FROM {self._db}.traces_log) "
            f"LIMIT {int(limit)}"
        )
        try:
            return [list(row) for row in self._client.query(sql).result_rows]
        except ClickHouseError as exc:
            raise Backpressure(f"ClickHouse lookup failed: {exc}") from exc

    def insert_events(self, rows: list[Row]) -> None:
        self._insert(self._events, rows)

    def insert_traces(self, rows: list[Row]) -> None:
        self._insert(self._traces, rows)

    def _insert(self, context: Any, rows: list[Row]) -> None:
        if not rows:
            return
        context.data = rows
        try:
            self._client.insert(context=context)
        except ClickHouseError as exc:
            raise Backpressure(f"ClickHouse insert into {context.table} failed: {exc}") from exc


def _positional(value: Any) -> Any:
    return tuple(value.values()) if isinstance(value, dict) else value
