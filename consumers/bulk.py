"""The worker's fast path for events: ClickHouse decodes the Avro, dedupes and joins, in SQL.

Python only frames messages (header → writer schema, body bytes) and wraps the bodies of a batch
in one Avro container per writer schema. ClickHouse reads them into a session-local stage table,
checks the contract, and a single ``INSERT … SELECT`` drops what is stored already (by tenant
and event_id, and repeats within the batch), joins each event to its trace and derives
``thumb``/``rating`` — one insert, so the projections stay atomic with the rows. Then the raters'
current opinions follow, from what was stored (``consumers.opinions``).
"""

from __future__ import annotations

import json

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from consumers.announcements import RECORD
from consumers.clickhouse_errors import is_data_error
from consumers.errors import Backpressure
from consumers.event_time import near_hours
from consumers.frames import Framed
from consumers.opinions import record_sql
from consumers.ranges import out_of_range_sql
from consumers.rows import DIMENSIONS, EVENT_COLUMNS
from schemas.catalog import SchemaVersion
from schemas.ocf import container
from schemas.vocabulary import EVENT_TYPES, EXPLICIT_TYPES

STAGE = "feedback_stage_events"
# The newest event reader schema as ClickHouse reads it from Avro (a unit test keeps them in step).
STAGE_COLUMNS = {
    "event_id": "String",
    "tenant_id": "String",
    "type": "String",
    "timestamp": "DateTime64(3, 'UTC')",
    "sent_at": "Nullable(DateTime64(3, 'UTC'))",
    "received_at": "DateTime64(3, 'UTC')",
    "ts": "DateTime64(3, 'UTC')",
    "conversation_id": "String",
    "trace_id": "Nullable(String)",
    "message_id": "Nullable(String)",
    "turn_id": "Nullable(String)",
    "response_id": "Nullable(String)",
    "session_id": "Nullable(String)",
    "user_id": "Nullable(String)",
    "anonymous_id": "Nullable(String)",
    "value": "Variant(Int64, String)",
    "reasons": "Array(String)",
    "comment": "Nullable(String)",
    "edited_text": "Nullable(String)",
    "edit_distance": "Nullable(Int64)",
    "copied_chars": "Nullable(Int64)",
    "attempt": "Nullable(Int64)",
    "dwell_ms": "Nullable(Int64)",
    "properties": "Map(String, String)",
    "received_via": "String DEFAULT 'http'",
}
TYPES = ", ".join(f"'{t}'" for t in sorted(EVENT_TYPES))
VIOLATIONS = f"""
SELECT count() FROM {STAGE}
WHERE tenant_id = '' OR event_id = '' OR conversation_id = '' OR type NOT IN ({TYPES})
   OR (type = 'rating' AND NOT (variantType(value) = 'Int64' AND variantElement(value, 'Int64') BETWEEN 1 AND 5))
   OR (type = 'thumbs'
       AND NOT (variantType(value) = 'String' AND variantElement(value, 'String') IN ('up', 'down', 'none')))
   OR {out_of_range_sql("event", STAGE_COLUMNS)}
"""
INSERT = """
INSERT INTO {target} ({columns})
SELECT
    s.tenant_id, s.event_id, s.type, s.timestamp, s.sent_at, s.received_at, s.ts, s.conversation_id,
    s.trace_id, s.message_id, s.turn_id, s.response_id, s.session_id, s.user_id, s.anonymous_id,
    multiIf(variantType(s.value) = 'String', variantElement(s.value, 'String'),
            variantType(s.value) = 'Int64', toString(variantElement(s.value, 'Int64')), NULL) AS value,
    if(s.type = 'thumbs', variantElement(s.value, 'String'), NULL) AS thumb,
    if(s.type = 'rating', toUInt8(variantElement(s.value, 'Int64')), NULL) AS rating,
    s.reasons, s.comment, s.edited_text,
    accurateCast(s.edit_distance, 'Nullable(UInt32)'), accurateCast(s.copied_chars, 'Nullable(UInt32)'),
    accurateCast(s.attempt, 'Nullable(UInt32)'), accurateCast(s.dwell_ms, 'Nullable(UInt32)'),
    s.properties, s.received_via,
    {joined}, t.trace_id IS NOT NULL AS trace_joined,
    1 AS version, 1 AS sign
FROM (SELECT * FROM {stage} LIMIT 1 BY tenant_id, event_id) AS s
LEFT JOIN
(
    SELECT tenant_id, trace_id, {dimensions}
    FROM {db}.traces_log
    WHERE sign = 1 AND (tenant_id, trace_id) IN (SELECT tenant_id, assumeNotNull(trace_id) FROM {stage})
    ORDER BY version DESC
    LIMIT 1 BY tenant_id, trace_id
) AS t ON s.tenant_id = t.tenant_id AND s.trace_id = t.trace_id
WHERE (s.tenant_id, s.event_id) NOT IN
(
    SELECT tenant_id, event_id FROM {db}.events_log
    WHERE (tenant_id, toStartOfHour(ts), event_id) IN {near}
)
SETTINGS join_use_nulls = 1
"""
# The trace of an event is its report with the highest live version: a newer report always has a
# higher version and cancels the older (no FINAL, which merged every granule its random ids touch).


class BulkRefused(Exception):
    """ClickHouse could not read the batch, or a record breaks the contract: take the slow path,
    which finds the culprits one by one."""


class AvroStage:
    """A session-local table that ClickHouse reads a batch's Avro bodies into, one container per
    writer schema; a contract check on the staged rows refuses the batch (slow path)."""

    def __init__(self, client: Client, name: str, columns: dict[str, str], violations: str) -> None:
        self._client = client
        self.name = name
        self._violations = violations
        ddl = ", ".join(f"{column} {kind}" for column, kind in columns.items())
        self.run(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({ddl}) ENGINE = Memory")

    def load(self, framed: list[Framed]) -> None:
        self.run(f"TRUNCATE TABLE {self.name}")
        by_writer: dict[int, tuple[SchemaVersion, list[bytes]]] = {}
        for item in framed:
            by_writer.setdefault(id(item.writer), (item.writer, []))[1].append(item.body)
        try:
            for writer, bodies in by_writer.values():
                self._client.raw_insert(
                    self.name,
                    insert_block=container(json.dumps(writer.definition), bodies),
                    fmt="Avro",
                    settings={"input_format_avro_allow_missing_fields": 1},
                )
            if self.count(self._violations):
                raise BulkRefused("a record breaks the contract")
        except OperationalError as exc:
            raise Backpressure(f"ClickHouse unavailable: {exc}") from exc
        except ClickHouseError as exc:
            raise BulkRefused(f"ClickHouse could not read the batch: {exc}") from exc

    def count(self, sql: str) -> int:
        return int(self._client.command(sql))  # type: ignore[arg-type]

    def run(self, sql: str) -> object:
        try:
            return self._client.command(sql)
        except OperationalError as exc:
            raise Backpressure(f"ClickHouse unavailable: {exc}") from exc
        except ClickHouseError as exc:
            # A value ClickHouse cannot store is the data's fault: the slow path isolates the
            # culprits; anything else is retried, never looped on as a data problem.
            if is_data_error(exc):
                raise BulkRefused(f"ClickHouse refused a value of the batch: {exc}") from exc
            raise Backpressure(f"ClickHouse refused {sql.split(maxsplit=1)[0]}: {exc}") from exc


# With telemetry on, the batch's new rows go to a session-local table first, then from it into
# events_log, and ClickHouse builds the records of the explicit ones from it: announcing them needs
# no slow path and no lookup of what was stored.
FRESH = "feedback_fresh_events"
EXPLICIT = ", ".join(f"'{kind}'" for kind in sorted(EXPLICIT_TYPES))


class BulkEventWriter:
    def __init__(self, client: Client, database: str, announce: bool = False) -> None:
        self._client = client
        self._announce = announce
        self._stage = AvroStage(client, STAGE, STAGE_COLUMNS, VIOLATIONS)
        columns = ", ".join(EVENT_COLUMNS)
        if announce:
            self._stage.run(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {FRESH} ENGINE = Memory "
                f"AS SELECT {columns} FROM {database}.events_log LIMIT 0"
            )
        self._keep_fresh = f"INSERT INTO {database}.events_log ({columns}) SELECT {columns} FROM {FRESH}"
        self._read_fresh = f"SELECT {RECORD} FROM {FRESH} WHERE type IN ({EXPLICIT})"
        self._insert = INSERT.format(
            target=FRESH if announce else f"{database}.events_log",
            db=database,
            stage=STAGE,
            columns=", ".join(EVENT_COLUMNS),
            joined=", ".join(f"t.{name}" for name in DIMENSIONS),
            dimensions=", ".join(DIMENSIONS),
            near=near_hours(STAGE),
        )
        # every explicit event of the batch, stored now or before: a crash between the two inserts
        # is mended when the batch is read again (consumers/opinions.py)
        self._opinions = record_sql(
            database,
            f"(SELECT tenant_id, event_id FROM {STAGE} WHERE type IN ('thumbs', 'rating'))",
            near_hours(STAGE, "type IN ('thumbs', 'rating')"),
        )

    def write(self, framed: list[Framed]) -> list[str]:
        """Store the batch's new events. Raises BulkRefused (take the slow path) or Backpressure.
        (How many were duplicates is not counted here: that would cost a second pass.) Returns the
        records of the explicit events newly stored (``consumers.announcements``), when asked to
        announce them; else nothing."""
        self._stage.load(framed)
        return self.store_staged()

    def store_staged(self) -> list[str]:
        """Store what the stage table holds (``write`` loads it from Avro; the growth bench's history
        loader fills it in SQL, so history goes through these very statements)."""
        if not self._announce:
            self._stage.run(self._insert)
            self._stage.run(self._opinions)
            return []
        self._stage.run(f"TRUNCATE TABLE {FRESH}")
        self._stage.run(self._insert)
        self._stage.run(self._keep_fresh)  # one insert: the projections stay atomic with the rows
        self._stage.run(self._opinions)
        try:
            result = self._client.query(self._read_fresh)
        except ClickHouseError as exc:
            raise Backpressure(f"ClickHouse lookup failed: {exc}") from exc
        return [row[0] for row in result.result_rows]
