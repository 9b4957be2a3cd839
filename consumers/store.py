"""ClickHouse I/O of the worker: what is already stored, and the inserts (one context per table)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from consumers.announcements import records_sql
from consumers.clickhouse_errors import is_data_error
from consumers.erased import erased_ids, is_erased
from consumers.errors import Backpressure, RowsRefused
from consumers.live_traces import live_traces
from consumers.opinions import mend_sql, prepare_record
from consumers.rows import DIMENSIONS, EVENT_COLUMNS, TRACE_COLUMNS, TRACE_INDEX, Row, TraceDims
from consumers.superseded import supersede_sql

Key = tuple[str, str]  # (tenant_id, id)
# A lookup's keys go into a session-local table first (a binary insert): thousands of literal
# tuples in the SQL text cost more to bind and to parse than the lookup itself.
KEY_TABLE = "feedback_lookup_keys"
KEYS = f"(SELECT tenant_id, id FROM {KEY_TABLE})"
IDS = f"(SELECT id FROM {KEY_TABLE})"


class ClickHouseStore:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database
        self._events = client.create_insert_context(f"{database}.events_log", column_names=list(EVENT_COLUMNS))
        self._traces = client.create_insert_context(f"{database}.traces_log", column_names=list(TRACE_COLUMNS))
        self._event_cols = ", ".join(EVENT_COLUMNS)
        self._trace_cols = ", ".join(TRACE_COLUMNS)
        client.command(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {KEY_TABLE} (tenant_id String, id String) ENGINE = Memory"
        )
        self._keys = client.create_insert_context(KEY_TABLE, column_names=["tenant_id", "id"])
        self._record = prepare_record(client.command, self._number, database, KEYS)

    def _load_keys(self, keys: Iterable[Key]) -> bool:
        """Put ``keys`` in the session's key table (read as ``KEYS`` or ``IDS``); False if there are none."""
        wanted = [list(key) for key in keys]
        if not wanted:
            return False
        try:
            self.client.command(f"TRUNCATE TABLE {KEY_TABLE}")
            self._keys.data = wanted
            self.client.insert(context=self._keys)
        except ClickHouseError as exc:
            raise Backpressure(f"ClickHouse lookup failed: {exc}") from exc
        return True

    def _rows(self, sql: str, keys: Iterable[Key]) -> list[Row]:
        """Run a lookup whose SQL reads the keys as ``KEYS`` (pairs) or ``IDS`` (ids alone)."""
        return self._query(sql) if self._load_keys(keys) else []

    def record_opinions(self, event_keys: Iterable[Key]) -> None:
        """Make the opinions these stored events state current where they are the latest
        (``consumers.opinions``); idempotent, so pass every event of a batch, stored before or not."""
        if self._load_keys(event_keys):
            for statement in self._record:
                self._command(statement, "opinions")

    def supersede_derived(self, event_keys: Iterable[Key]) -> None:
        """Cancel the derived signals that a client signal supersedes, on the responses of these
        stored events (``consumers.superseded``); idempotent, so pass every derived-type event of a
        batch, stored before or not."""
        if self._load_keys(event_keys):
            self._command(supersede_sql(self.database, KEYS), "events_log")

    def mend_opinions(self, trace_keys: Iterable[Key]) -> None:
        """Move the current opinions waiting for these (stored) traces to their dimensions; idempotent."""
        if self._load_keys(trace_keys):
            self._command(mend_sql(self.database, KEYS, IDS), "opinions")

    def _command(self, sql: str, table: str) -> None:
        try:
            self.client.command(sql)
        except ClickHouseError as exc:
            raise Backpressure(f"ClickHouse insert into {table} failed: {exc}") from exc

    def _number(self, sql: str) -> int:
        """The one number ``sql`` answers."""
        return int(self._query(sql)[0][0])

    def _query(self, sql: str) -> list[Row]:
        try:
            return [list(row) for row in self.client.query(sql).result_rows]
        except ClickHouseError as exc:
            raise Backpressure(f"ClickHouse lookup failed: {exc}") from exc

    def announcements(self, keys: Iterable[Key]) -> list[str]:
        """The ``chat.feedback.submitted`` records of these stored events (``consumers.announcements``)."""
        return [row[0] for row in self._rows(records_sql(self.database, KEYS), keys)]

    def without_erased(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """These decoded events or traces but those of erased users (``consumers.erased``)."""
        if not records:
            return records
        erased = erased_ids(self.client, self.database, (record["tenant_id"] for record in records))
        return [record for record in records if not is_erased(record, erased)] if erased else records

    def stored_event_ids(self, keys: Iterable[Key]) -> set[Key]:
        rows = self._rows(
            f"SELECT tenant_id, event_id FROM {self.database}.events_log WHERE (tenant_id, event_id) IN {KEYS}",
            keys,
        )
        return {(row[0], row[1]) for row in rows}

    # Traces by id alone, whatever their time (the slow path's lookups, rare): traces_log sorts by the
    # hour of timestamp first, so these read its projection by trace (sql/0033) or skip granules with
    # the bloom filter on trace_id; the live report without FINAL (consumers.live_traces).
    def stored_trace_versions(self, keys: Iterable[Key]) -> dict[Key, int]:
        """The version of the latest stored report of each of these traces."""
        rows = self._rows(
            f"SELECT tenant_id, trace_id, max(version) FROM {self.database}.traces_log "
            f"WHERE (tenant_id, trace_id) IN {KEYS} AND sign = 1 GROUP BY tenant_id, trace_id",
            keys,
        )
        return {(row[0], row[1]): int(row[2]) for row in rows}

    def stored_traces(self, keys: Iterable[Key]) -> list[Row]:
        """The current row of each trace (latest report), full width, ready to insert again."""
        rows = self._rows(
            live_traces(
                f"{self.database}.traces_log",
                self._trace_cols,
                f"trace_id IN {IDS} AND (tenant_id, trace_id) IN {KEYS}",
            ),
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
            live_traces(
                f"{self.database}.traces_log",
                f"tenant_id, trace_id, {', '.join(DIMENSIONS)}",
                f"(tenant_id, trace_id) IN {KEYS}",
            ),
            keys,
        )
        return {(row[0], row[1]): TraceDims(tuple(row[2:])) for row in rows}

    def unjoined_events(self, trace_keys: Iterable[Key]) -> list[Row]:
        """Stored events still waiting for one of these traces, current version, full width.
        (``trace_id IN`` alone is what the bloom-filter index on trace_id can skip granules with.)"""
        keys = list(trace_keys)
        if not keys:
            return []
        # Candidates without FINAL first (cheap; may include events joined since, whose first
        # version is not merged away yet), then the current rows of those few by primary key.
        candidates = self._rows(
            f"SELECT DISTINCT tenant_id, event_id, toUnixTimestamp(toStartOfHour(ts)) FROM {self.database}.events_log "
            f"WHERE trace_id IN {IDS} AND (tenant_id, trace_id) IN {KEYS} AND sign = 1 AND NOT trace_joined",
            keys,
        )
        # their hours: events_log sorts by tenant and hour before event_id (consumers/event_time.py)
        hours = ", ".join(sorted({f"toDateTime({int(row[2])}, 'UTC')" for row in candidates})) or "NULL"
        return self._rows(
            f"SELECT {self._event_cols} FROM {self.database}.events_log FINAL "
            f"WHERE (tenant_id, event_id) IN {KEYS} AND toStartOfHour(ts) IN ({hours}) AND sign = 1 "
            "AND NOT trace_joined",
            [(row[0], row[1]) for row in candidates],
        )

    def unjoined_with_trace(self, limit: int) -> list[Row]:
        """Any stored events whose trace is stored too but which are not joined yet (for ``rejoin``)."""
        sql = (
            f"SELECT {self._event_cols} FROM {self.database}.events_log FINAL "
            f"WHERE sign = 1 AND NOT trace_joined AND trace_id IS NOT NULL "
            f"AND (tenant_id, trace_id) IN (SELECT tenant_id, trace_id FROM {self.database}.traces_log) "
            f"LIMIT {int(limit)}"
        )
        return self._query(sql)

    def insert_events(self, rows: list[Row]) -> None:
        self._insert(self._events, rows)

    def insert_traces(self, rows: list[Row]) -> None:
        self._insert(self._traces, rows)

    def _insert(self, context: Any, rows: list[Row]) -> None:
        if not rows:
            return
        context.data = rows
        try:
            self.client.insert(context=context)
        except ClickHouseError as exc:
            if is_data_error(exc):
                raise RowsRefused(f"ClickHouse refused a value for {context.table}: {exc}") from exc
            raise Backpressure(f"ClickHouse insert into {context.table} failed: {exc}") from exc


def _positional(value: Any) -> Any:
    return tuple(value.values()) if isinstance(value, dict) else value
