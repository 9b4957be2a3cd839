"""The worker's fast path for traces, in SQL like events (``consumers.bulk``).

New traces go in with one ``INSERT … SELECT`` (the latest report per trace of the batch, those not
stored yet); the events that were waiting for them are rejoined with one more, whose
``ARRAY JOIN [-1, 1]`` writes each event's cancel row and its joined next version in the same
block (through a session-local table, whose count is how many were rejoined); the current
opinions waiting for them move the same way (``consumers.opinions``). A trace reported again with
a newer version (rare) sends the batch to the slow path, which writes the old report's cancel
row and the new one together.
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from consumers.bulk import AvroStage, BulkRefused
from consumers.erased import stage_condition
from consumers.event_time import after_traces, near_trace_hours
from consumers.frames import Framed
from consumers.live_traces import live_traces
from consumers.opinions import mend_sql
from consumers.outcome import Written
from consumers.ranges import out_of_range_sql
from consumers.rows import DIMENSIONS, EVENT_COLUMNS, EVENT_FIELDS, TRACE_COLUMNS
from consumers.stage_columns import stage_columns
from schemas.bounds import COLUMN_TYPES

STAGE = "feedback_stage_traces"
RETRIEVAL = (
    "Tuple(doc_ids Array(String), scores Array(Float64), "
    "chunk_count Nullable(UInt32), citations_shown Nullable(UInt32))"
)
TOOLS = "Array(Tuple(name String, success Nullable(Bool), latency_ms Nullable(UInt32), error Nullable(String)))"
# The newest trace reader schema as ClickHouse reads it from Avro (``consumers.stage_columns``).
STAGE_COLUMNS = stage_columns("trace")
VIOLATIONS = (
    f"SELECT count() FROM {STAGE} WHERE tenant_id = '' OR trace_id = '' OR conversation_id = '' "
    f"OR {out_of_range_sql('trace', STAGE_COLUMNS)}"
)
KEYS = f"(SELECT tenant_id, trace_id FROM {STAGE})"
# Where traces_log holds the stored reports of the batch's traces: the hours of their timestamps
# (consumers.event_time), not the whole history.
STORED_HOURS = f"(tenant_id, toStartOfHour(timestamp), trace_id) IN {near_trace_hours(STAGE)}"
# The live version of each trace of the batch that is stored already, read from traces_log once per
# batch (by the hours of their timestamps) into a session-local table that the re-report check and
# the insert both read.
STORED = "feedback_stored_traces"
KEEP_STORED = f"""
INSERT INTO {STORED}
SELECT tenant_id, trace_id, max(version) FROM {{db}}.traces_log
WHERE sign = 1 AND {STORED_HOURS}
GROUP BY tenant_id, trace_id
"""
# Per trace of the batch, its latest report against what is stored: a newer report of a stored
# trace (the slow path replaces it), and the traces not stored at all (what the insert stores).
COUNTS = f"""
SELECT countIf(s.v IS NOT NULL AND s.v < l.v), countIf(s.v IS NULL)
FROM (SELECT tenant_id, trace_id, max(toUnixTimestamp64Milli(received_at)) AS v FROM {STAGE}
      GROUP BY tenant_id, trace_id) AS l
LEFT JOIN (SELECT tenant_id, trace_id, version AS v FROM {STORED}) AS s
ON l.tenant_id = s.tenant_id AND l.trace_id = s.trace_id
SETTINGS join_use_nulls = 1
"""


def _trace_value(name: str) -> str:
    if name == "retrieval":
        return (
            f"if(l.retrieval IS NULL, CAST(tuple([], [], NULL, NULL), '{RETRIEVAL}'), "
            f"CAST(assumeNotNull(l.retrieval), '{RETRIEVAL}'))"
        )
    if name == "tools":
        return f"CAST(l.tools, '{TOOLS}')"
    if name in COLUMN_TYPES["trace"]:  # an integer, cast to its column's type
        return f"accurateCast(l.{name}, 'Nullable({COLUMN_TYPES['trace'][name]})')"
    if name == "version":
        return "toUInt64(toUnixTimestamp64Milli(l.received_at))"
    if name == "sign":
        return "1"
    return f"l.{name}"


INSERT_TRACES = f"""
INSERT INTO {{db}}.traces_log ({", ".join(TRACE_COLUMNS)})
SELECT {", ".join(_trace_value(name) for name in TRACE_COLUMNS)}
FROM (SELECT * FROM {STAGE} ORDER BY received_at DESC LIMIT 1 BY tenant_id, trace_id) AS l
WHERE (l.tenant_id, l.trace_id) NOT IN (SELECT tenant_id, trace_id FROM {STORED})
"""


def _rejoin_value(name: str) -> str:
    if name in DIMENSIONS:
        return f"if(s = 1, t.{name}, e.{name})"
    if name == "trace_joined":
        return "s = 1"
    if name == "version":
        return "if(s = 1, e.version + 1, e.version)"
    if name == "sign":
        return "s"
    assert name in EVENT_FIELDS, name
    return f"e.{name}"


# The events that point at the batch's traces, read once from the hours that can hold them: how many
# still wait for them (the rejoin, whose join reads the batch's traces again, runs only then), and how
# many are explicit, joined by now or not (only then can an opinion wait for them, and the move of
# opinions, a bloom-filter pass over opinions_log, is needed; joined ones count too: a crash between
# the rejoin and the move is mended when the batch is read again). The rejoin adds rows only for
# events counted here, so whether any explicit one points at the traces is the same after it.
# They go to a session-local table, which the rejoin reads its candidates from.
POINTED = "feedback_pointed_events"
POINTING = f"""
INSERT INTO {POINTED}
SELECT tenant_id, toStartOfHour(ts), event_id, sign = 1 AND NOT trace_joined, type IN ('thumbs', 'rating')
FROM {{db}}.events_log
WHERE trace_id IN (SELECT trace_id FROM {STAGE}) AND (tenant_id, trace_id) IN {KEYS} AND {after_traces(STAGE)}
"""
POINTED_COUNTS = f"SELECT countIf(waiting), countIf(explicit) FROM {POINTED}"


# The rejoined rows go through a session-local table: how many events were rejoined is its count. The
# events waiting are read by their sort key, without FINAL (which merges every part's rows of the
# hours they are in): each version of an event comes with the cancel row of the one before, and a
# cancelled event (a superseded derived signal) has a cancel row at its highest version. So an event
# is live exactly when, sorted by version descending and cancel rows first, its first row is a +1 row,
# and that row is its current version.
REJOINED = "feedback_rejoined_events"
REJOIN = f"""
INSERT INTO {REJOINED} ({", ".join(EVENT_COLUMNS)})
SELECT {", ".join(_rejoin_value(name) for name in EVENT_COLUMNS)}
FROM
(
    SELECT * FROM
    (
        SELECT * FROM {{db}}.events_log
        WHERE (tenant_id, toStartOfHour(ts), event_id) IN
              (SELECT tenant_id, hour, event_id FROM {POINTED} WHERE waiting)
        ORDER BY version DESC, sign
        LIMIT 1 BY tenant_id, event_id
    )
    WHERE sign = 1 AND NOT trace_joined
) AS e
ARRAY JOIN [-1, 1] AS s
INNER JOIN
(
    {live_traces("{db}.traces_log", f"tenant_id, trace_id, {', '.join(DIMENSIONS)}", STORED_HOURS)}
) AS t ON e.tenant_id = t.tenant_id AND e.trace_id = t.trace_id
"""


class BulkTraceWriter:
    def __init__(self, client: Client, database: str) -> None:
        self._stage = AvroStage(client, STAGE, STAGE_COLUMNS, VIOLATIONS, stage_condition(database))
        columns = ", ".join(EVENT_COLUMNS)
        self._stage.run(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {REJOINED} ENGINE = Memory "
            f"AS SELECT {columns} FROM {database}.events_log LIMIT 0"
        )
        self._stage.run(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STORED} (tenant_id String, trace_id String, version UInt64) "
            "ENGINE = Memory"
        )
        self._stage.run(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {POINTED} "
            "(tenant_id String, hour DateTime('UTC'), event_id String, waiting Bool, explicit Bool) ENGINE = Memory"
        )
        self._keep_stored = KEEP_STORED.format(db=database)
        self._counts = COUNTS
        self._insert = INSERT_TRACES.format(db=database)
        self._rejoin = REJOIN.format(db=database)
        # one insert: each event's cancel row and its joined next version in the same block
        self._keep_rejoined = f"INSERT INTO {database}.events_log ({columns}) SELECT {columns} FROM {REJOINED}"
        self._opinions = mend_sql(database, KEYS, f"(SELECT trace_id FROM {STAGE})", STORED_HOURS)
        self._pointing = POINTING.format(db=database)

    def write(self, framed: list[Framed]) -> Written:
        """Store the batch's new traces and rejoin the events waiting for them: how many of each.
        Raises BulkRefused (a newer report of a stored trace: the slow path replaces it) or
        Backpressure."""
        self._stage.load(framed)
        return self.store_staged()

    def store_staged(self) -> Written:
        """Store what the stage table holds (see ``BulkEventWriter.store_staged``)."""
        self._stage.run(f"TRUNCATE TABLE {STORED}")
        self._stage.run(self._keep_stored)
        re_reports, new = self._stage.counts(self._counts)
        if re_reports:
            raise BulkRefused("a stored trace is reported again")
        self._stage.run(self._insert)
        # Every trace of the batch, not only the new ones: a crash between storing a trace and
        # rejoining its events is mended when the batch is read again.
        self._stage.run(f"TRUNCATE TABLE {REJOINED}")
        self._stage.run(f"TRUNCATE TABLE {POINTED}")
        self._stage.run(self._pointing)
        waiting, explicit = self._stage.counts(POINTED_COUNTS)
        if waiting:
            self._stage.run(self._rejoin)
            self._stage.run(self._keep_rejoined)
        if explicit:
            self._stage.run(self._opinions)
        rejoined = self._stage.count(f"SELECT count() FROM {REJOINED}") // 2
        return Written(new, rejoined=rejoined, erased=self._stage.erased)
