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
from consumers.cluster_tables import distributed_sql
from consumers.erased import stage_condition
from consumers.errors import Backpressure
from consumers.event_time import near_hours, traces_before
from consumers.frames import Framed
from consumers.live_traces import READS_PROJECTIONS, by_trace_source, live_traces
from consumers.opinions import prepare_record
from consumers.outcome import Written
from consumers.ranges import out_of_range_sql
from consumers.rows import DIMENSIONS, EVENT_COLUMNS, EVENT_FIELDS
from consumers.stage_columns import stage_columns
from consumers.superseded import TYPES as DERIVED_SQL
from consumers.superseded import supersede_sql
from schemas.bounds import COLUMN_TYPES
from schemas.catalog import SchemaVersion
from schemas.ocf import container
from schemas.vocabulary import EVENT_TYPES, EXPLICIT_TYPES

STAGE = "feedback_stage_events"
# The newest event reader schema as ClickHouse reads it from Avro (``consumers.stage_columns``).
STAGE_COLUMNS = stage_columns("event")
TYPES = ", ".join(f"'{t}'" for t in sorted(EVENT_TYPES))
VIOLATIONS = f"""
SELECT count() FROM {STAGE}
WHERE tenant_id = '' OR event_id = '' OR conversation_id = '' OR type NOT IN ({TYPES})
   OR (type = 'rating' AND NOT (variantType(value) = 'Int64' AND variantElement(value, 'Int64') BETWEEN 1 AND 5))
   OR (type = 'thumbs'
       AND NOT (variantType(value) = 'String' AND variantElement(value, 'String') IN ('up', 'down', 'none')))
   OR {out_of_range_sql("event", STAGE_COLUMNS)}
"""


def _event_value(name: str) -> str:
    """What the insert writes into ``name`` of events_log: the staged field, or what is derived from
    it (``value``'s three readings, integers cast to their column, the trace's dimensions)."""
    if name == "value":
        return (
            "multiIf(variantType(s.value) = 'String', variantElement(s.value, 'String'), "
            "variantType(s.value) = 'Int64', toString(variantElement(s.value, 'Int64')), NULL) AS value"
        )
    if name == "thumb":
        return "if(s.type = 'thumbs', variantElement(s.value, 'String'), NULL) AS thumb"
    if name == "rating":
        return "if(s.type = 'rating', toUInt8(variantElement(s.value, 'Int64')), NULL) AS rating"
    if name in COLUMN_TYPES["event"]:
        return f"accurateCast(s.{name}, 'Nullable({COLUMN_TYPES['event'][name]})')"
    if name in DIMENSIONS:
        return f"t.{name}"
    if name == "trace_joined":
        return "t.trace_id IS NOT NULL AS trace_joined"
    if name in ("version", "sign"):
        return f"1 AS {name}"
    assert name in EVENT_FIELDS, name
    return f"s.{name}"


# The traces of the batch's events go to a session-local table first, which the insert joins: the
# live report of each (consumers.live_traces). It is looked for in the few hours before the event's
# ts first (consumers.event_time: traces_log sorts by the hour of timestamp), then, for the events
# whose trace is not there, through all of history, in traces_log's projection by trace id
# (consumers.live_traces.by_trace_source): random ids cost a granule each of every part there, so
# only the few that need it pay it.
TRACES = "feedback_event_traces"
FIND_TRACES = f"""
INSERT INTO {TRACES}
{live_traces("{traces}", f"tenant_id, trace_id, {', '.join(DIMENSIONS)}", "{where}")}
SETTINGS optimize_use_projections = {{projections}}
"""
TRACES_NEAR = f"(tenant_id, toStartOfHour(timestamp), trace_id) IN {traces_before(STAGE, 'trace_id IS NOT NULL')}"
TRACES_ANYWHERE = (
    f"(tenant_id, trace_id) IN (SELECT tenant_id, assumeNotNull(trace_id) FROM {STAGE} WHERE trace_id IS NOT NULL "
    f"AND (tenant_id, assumeNotNull(trace_id)) NOT IN (SELECT tenant_id, trace_id FROM {TRACES}))"
)

INSERT = f"""
INSERT INTO {{target}} ({", ".join(EVENT_COLUMNS)})
SELECT {", ".join(_event_value(name) for name in EVENT_COLUMNS)}
FROM (SELECT * FROM {STAGE} LIMIT 1 BY tenant_id, event_id) AS s
LEFT JOIN {TRACES} AS t ON s.tenant_id = t.tenant_id AND s.trace_id = t.trace_id
WHERE (s.tenant_id, s.event_id) NOT IN
(
    SELECT tenant_id, event_id FROM {{db}}.events_log
    WHERE (tenant_id, toStartOfHour(ts), event_id) IN {near_hours(STAGE)}
)
SETTINGS join_use_nulls = 1
"""


class BulkRefused(Exception):
    """ClickHouse could not read the batch, or a record breaks the contract: take the slow path,
    which finds the culprits one by one."""


# The fast path's statements look rows up by their sort keys: weighing the tables' projections first
# (aggregates, and traces_log's by trace) only costs time, growing with the history. The one lookup by
# trace id alone reads its projection (TRACES_ANYWHERE, consumers.live_traces.by_trace_source).
BY_KEY = {"optimize_use_projections": 0}


class AvroStage:
    """A session-local table that ClickHouse reads a batch's Avro bodies into, one container per
    writer schema; a contract check on the staged rows refuses the batch (slow path)."""

    def __init__(
        self, client: Client, name: str, columns: dict[str, str], violations: str, erased: str | None = None
    ) -> None:
        self._client = client
        self.name = name
        self._violations = violations
        # rows of erased users (consumers.erased) are dropped from the stage once loaded
        self._count_erased = f"SELECT count() FROM {name} WHERE {erased}" if erased else None
        self._drop_erased = f"ALTER TABLE {name} DELETE WHERE {erased} SETTINGS mutations_sync = 2" if erased else None
        self.erased = 0  # how many rows of erased users the last batch had
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
            self.erased = self.count(self._count_erased) if self._count_erased else 0
            if self.erased and self._drop_erased:
                self.run(self._drop_erased)
        except OperationalError as exc:
            raise Backpressure(f"ClickHouse unavailable: {exc}") from exc
        except ClickHouseError as exc:
            raise BulkRefused(f"ClickHouse could not read the batch: {exc}") from exc

    def count(self, sql: str) -> int:
        return self.counts(sql)[0]

    def counts(self, sql: str) -> list[int]:
        """The numbers of the one row ``sql`` answers."""
        try:
            return [int(value) for value in self._client.query(sql, settings=BY_KEY).result_rows[0]]
        except OperationalError as exc:
            raise Backpressure(f"ClickHouse unavailable: {exc}") from exc
        except ClickHouseError as exc:
            raise Backpressure(f"ClickHouse lookup failed: {exc}") from exc

    def run(self, sql: str) -> object:
        try:
            return self._client.command(sql, settings=BY_KEY)
        except OperationalError as exc:
            raise Backpressure(f"ClickHouse unavailable: {exc}") from exc
        except ClickHouseError as exc:
            # A value ClickHouse cannot store is the data's fault: the slow path isolates the
            # culprits; anything else is retried, never looped on as a data problem.
            if is_data_error(exc):
                raise BulkRefused(f"ClickHouse refused a value of the batch: {exc}") from exc
            raise Backpressure(f"ClickHouse refused {sql.split(maxsplit=1)[0]}: {exc}") from exc


# The batch's new rows go to a session-local table first, then from it into events_log in one
# insert (the projections stay atomic with the rows): how many were stored is its count, on any
# ClickHouse, and with telemetry on ClickHouse builds the records of the explicit ones from it
# (announcing them needs no slow path and no lookup of what was stored).
FRESH = "feedback_fresh_events"
EXPLICIT = ", ".join(f"'{kind}'" for kind in sorted(EXPLICIT_TYPES))


class BulkEventWriter:
    def __init__(self, client: Client, database: str, announce: bool = False) -> None:
        self._client = client
        self._announce = announce
        self._stage = AvroStage(client, STAGE, STAGE_COLUMNS, VIOLATIONS, stage_condition(database))
        columns = ", ".join(EVENT_COLUMNS)
        self._stage.run(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {FRESH} ENGINE = Memory "
            f"AS SELECT {columns} FROM {database}.events_log LIMIT 0"
        )
        self._stage.run(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {TRACES} ENGINE = Memory "
            f"AS SELECT tenant_id, trace_id, {', '.join(DIMENSIONS)} FROM {database}.traces_log LIMIT 0"
        )
        direct = (
            self._stage.count(READS_PROJECTIONS) == 1
            and self._stage.count(distributed_sql(database, "traces_log")) == 0
        )
        by_trace, projections = by_trace_source(database, direct)
        self._find_traces = [
            FIND_TRACES.format(traces=f"{database}.traces_log", where=TRACES_NEAR, projections=0),
            FIND_TRACES.format(traces=by_trace, where=TRACES_ANYWHERE, projections=projections),
        ]
        self._keep_fresh = f"INSERT INTO {database}.events_log ({columns}) SELECT {columns} FROM {FRESH}"
        self._read_fresh = f"SELECT {RECORD} FROM {FRESH} WHERE type IN ({EXPLICIT})"
        self._insert = INSERT.format(target=FRESH, db=database)
        # every explicit event of the batch, stored now or before: a crash between the two inserts
        # is mended when the batch is read again (consumers/opinions.py)
        self._opinions = prepare_record(
            self._stage.run,
            self._stage.count,
            database,
            f"(SELECT tenant_id, event_id FROM {STAGE} WHERE type IN ('thumbs', 'rating'))",
            near_hours(STAGE, "type IN ('thumbs', 'rating')"),
        )
        # likewise every derived-type event of the batch (consumers/superseded.py)
        self._supersede = supersede_sql(
            database,
            f"(SELECT tenant_id, event_id FROM {STAGE} WHERE type IN ({DERIVED_SQL}))",
            near_hours(STAGE, f"type IN ({DERIVED_SQL})"),
        )

    def write(self, framed: list[Framed]) -> Written:
        """Store the batch's new events: how many, and the records of the explicit ones when asked
        to announce them (``consumers.announcements``). Raises BulkRefused (take the slow path) or
        Backpressure."""
        self._stage.load(framed)
        return self.store_staged()

    def store_staged(self) -> Written:
        """Store what the stage table holds (``write`` loads it from Avro; the growth bench's history
        loader fills it in SQL, so history goes through these very statements)."""
        self._stage.run(f"TRUNCATE TABLE {FRESH}")
        self._stage.run(f"TRUNCATE TABLE {TRACES}")
        for find in self._find_traces:
            self._stage.run(find)
        self._stage.run(self._insert)
        self._stage.run(self._keep_fresh)
        for statement in self._opinions:
            self._stage.run(statement)
        self._stage.run(self._supersede)
        stored = self._stage.count(f"SELECT count() FROM {FRESH}")
        if not self._announce:
            return Written(stored, erased=self._stage.erased)
        try:
            result = self._client.query(self._read_fresh)
        except ClickHouseError as exc:
            raise Backpressure(f"ClickHouse lookup failed: {exc}") from exc
        return Written(stored, erased=self._stage.erased, announced=tuple(row[0] for row in result.result_rows))
