"""Each rater's current opinion of a message, kept by the worker in ``opinions_log``.

A rater is the event's ``user_id``, else its ``session_id``, else its ``anonymous_id`` (``rater_kind``
says which); an explicit event with none of them stands alone (kind ``event``: its own event_id).
A rater has at most one current thumb and one current 1-5 rating per message: the latest by event
time (ties: the larger event_id, so every replay picks the same). A thumb ``none`` is a current
thumb that counts nowhere: it takes the thumb back, and an older thumb arriving late stays behind it.

``opinions_log`` is a signed log like ``events_log``: replacing an opinion inserts, in ONE block, the
cancel row of the current one (sign -1, its version) and the new one (the next version), so its
aggregate projections (``quality_hourly``'s opinion counts, ``reasons_hourly``) never see both or
neither. The log is written after ``events_log``, from what ``events_log`` holds, and only where
the stored opinion is older: running the same statement again writes nothing. So a crash between
the two inserts is mended when the batch is read again (the worker runs it for every explicit event
of a batch, stored before or not), and nothing is counted twice.

When a late trace arrives, the current opinions waiting for it move to its dimensions the same way
(cancel row and joined next version in one block), again idempotently.
"""

from __future__ import annotations

from collections.abc import Callable

from consumers.cluster_tables import distributed_sql
from consumers.live_traces import live_traces

OPINION_TYPES = frozenset({"thumbs", "rating"})  # the event types that state an opinion
OPINION_COLUMNS = (
    "tenant_id", "message_id", "rater_kind", "rater", "kind", "version", "event_id", "ts", "thumb", "rating",
    "reasons", "comment", "conversation_id", "trace_id", "model", "model_version", "prompt_version", "feature",
    "trace_joined", "sign",
)  # fmt: skip
# The opinion's dimensions in quality_hourly and reasons_hourly, taken from the event (or its trace).
OPINION_DIMENSIONS = ("model", "model_version", "prompt_version", "feature")
OPINION_KEY = ("tenant_id", "message_id", "rater_kind", "rater", "kind")
KEY = ", ".join(OPINION_KEY)

# Who rated, from an events_log row (the same expressions as the events_log ALIAS columns).
RATER_KIND = (
    "multiIf(ifNull(user_id, '') != '', 'user', ifNull(session_id, '') != '', 'session', "
    "ifNull(anonymous_id, '') != '', 'anonymous', 'event')"
)
RATER = (
    "multiIf(ifNull(user_id, '') != '', assumeNotNull(user_id), ifNull(session_id, '') != '', "
    "assumeNotNull(session_id), ifNull(anonymous_id, '') != '', assumeNotNull(anonymous_id), event_id)"
)


def _record_value(name: str) -> str:
    if name == "version":
        return "if(s = 1, c_version + 1, c_version)"
    if name == "sign":
        return "toInt8(s)"
    return f"if(s = 1, {name}, c_{name})"


# ``{keys}``: a subquery of (tenant_id, event_id) pairs, the batch's events. The candidates are the
# live rows of those events in events_log (what is stored wins over what the batch says), latest per
# rater, message and kind; ``c`` is each one's current stored opinion (version 0: none yet), looked
# for among the messages of ``{rated}``: those that may have one.
RECORD = f"""
INSERT INTO {{db}}.opinions_log ({", ".join(OPINION_COLUMNS)})
SELECT {", ".join(_record_value(name) for name in OPINION_COLUMNS)}
FROM
(
    SELECT * FROM
    (
        SELECT
            tenant_id, ifNull(message_id, '') AS message_id, {RATER_KIND} AS rater_kind, {RATER} AS rater,
            if(type = 'thumbs', 'thumb', 'rating') AS kind, event_id, ts, thumb, rating,
            if(ifNull(thumb, '') = 'none', [], reasons) AS reasons, comment, conversation_id, trace_id,
            {", ".join(OPINION_DIMENSIONS)}, trace_joined
        FROM
        (
            SELECT * FROM {{db}}.events_log
            WHERE (tenant_id, event_id) IN {{keys}} AND {{near}} AND sign = 1 AND type IN ('thumbs', 'rating')
            ORDER BY version DESC
            LIMIT 1 BY tenant_id, event_id
        )
        ORDER BY ts DESC, event_id DESC
        LIMIT 1 BY {KEY}
    ) AS n
    LEFT JOIN
    (
        SELECT {", ".join(f"{name} AS c_{name}" for name in OPINION_COLUMNS)}
        FROM {{db}}.opinions_log
        WHERE (tenant_id, message_id) IN {{rated}} AND sign = 1
        ORDER BY c_version DESC
        LIMIT 1 BY {", ".join(f"c_{name}" for name in OPINION_KEY)}
    ) AS c
    ON {" AND ".join(f"n.{name} = c.c_{name}" for name in OPINION_KEY)}
    WHERE c.c_version = 0 OR (n.ts, n.event_id) > (c.c_ts, c.c_event_id)
    SETTINGS join_use_nulls = 0
)
ARRAY JOIN if(c_version = 0, [1], [-1, 1]) AS s
"""


def _mend_value(name: str) -> str:
    if name in OPINION_DIMENSIONS:
        return f"if(s = 1, t.{name}, o.{name})"
    if name == "trace_joined":
        return "s = 1"
    if name == "version":
        return "if(s = 1, o.version + 1, o.version)"
    if name == "sign":
        return "toInt8(s)"
    return f"o.{name}"


# ``{keys}``: (tenant_id, trace_id) pairs of traces now stored; ``{ids}`` their trace_ids alone (what
# the bloom filter on trace_id can skip granules with). Current opinions still waiting for one of
# them become a cancel row and a joined next version, the dimensions of the traces' live reports
# (``{stored}``: a condition on traces_log that holds those reports).
WAITED_FOR = "(tenant_id, trace_id) IN {keys} AND {stored}"
MEND = f"""
INSERT INTO {{db}}.opinions_log ({", ".join(OPINION_COLUMNS)})
SELECT {", ".join(_mend_value(name) for name in OPINION_COLUMNS)}
FROM
(
    SELECT * FROM
    (
        SELECT * FROM {{db}}.opinions_log
        WHERE (tenant_id, message_id) IN
        (
            SELECT tenant_id, message_id FROM {{db}}.opinions_log
            WHERE trace_id IN {{ids}} AND (tenant_id, trace_id) IN {{keys}} AND sign = 1 AND NOT trace_joined
        ) AND sign = 1
        ORDER BY version DESC
        LIMIT 1 BY {KEY}
    )
    WHERE NOT trace_joined
) AS o
ARRAY JOIN [-1, 1] AS s
INNER JOIN
(
    {live_traces("{db}.traces_log", f"tenant_id, trace_id, {', '.join(OPINION_DIMENSIONS)}", WAITED_FOR)}
) AS t ON o.tenant_id = t.tenant_id AND o.trace_id = t.trace_id
"""


# Which messages may have an opinion: ``rated_messages`` (sql/0034), a key-value table of every message
# ever rated, answers for a batch's messages in a few ms, where looking each up in opinions_log costs
# a granule of its sort key (about 100 µs a message, whatever the layout). A batch's messages are
# written to it before their opinions, so it never lacks a message that has one: a crash in between
# leaves a message there with no opinion yet, looked up in opinions_log for nothing, never the reverse.
BATCH_MESSAGES = "feedback_batch_messages"  # the messages of the batch's stored explicit events
RATED_BEFORE = "feedback_rated_before"  # those of them in rated_messages before the batch
RECORD_TABLES = tuple(
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} (tenant_id String, message_id String) ENGINE = Memory"
    for name in (BATCH_MESSAGES, RATED_BEFORE)
)  # the session tables of record_statements: create them once per session


def prepare_record(
    run: Callable[[str], object], count: Callable[[str], int], database: str, keys: str, near: str | None = None
) -> list[str]:
    """``record_statements`` for the session that ``run`` and ``count`` reach (a statement; a query
    of one number): its session tables created, and ``rated_messages`` used unless ``opinions_log``
    is a cluster's Distributed table."""
    for table in RECORD_TABLES:
        run(table)
    return record_statements(database, keys, near, rated=count(distributed_sql(database, "opinions_log")) == 0)


def record_statements(database: str, keys: str, near: str | None = None, *, rated: bool = True) -> list[str]:
    """The statements, in order, that make the current opinions of the events in ``keys`` (a subquery
    of tenant_id, event_id) current. ``near``: a subquery of (tenant_id, hour, event_id) that holds
    those events' hours (``consumers.event_time.near_hours``), so the lookups read those hours of
    ``events_log`` only. ``rated``: look in opinions_log only for the messages ``rated_messages``
    holds; False where it is not the whole truth (a cluster: consumers.cluster_tables), and every
    message of the batch is looked up."""
    pruned = "1" if near is None else f"(tenant_id, toStartOfHour(ts), event_id) IN {near}"
    messages = (
        f"(SELECT tenant_id, ifNull(message_id, '') FROM {database}.events_log "
        f"WHERE (tenant_id, event_id) IN {keys} AND {pruned})"
    )
    if not rated:
        return [RECORD.format(db=database, keys=keys, near=pruned, rated=messages)]
    return [
        f"TRUNCATE TABLE {BATCH_MESSAGES}",
        f"TRUNCATE TABLE {RATED_BEFORE}",
        f"INSERT INTO {BATCH_MESSAGES} SELECT DISTINCT * FROM {messages}",
        f"INSERT INTO {RATED_BEFORE} SELECT tenant_id, message_id FROM {database}.rated_messages "
        f"WHERE (tenant_id, message_id) IN (SELECT tenant_id, message_id FROM {BATCH_MESSAGES})",
        f"INSERT INTO {database}.rated_messages SELECT tenant_id, message_id FROM {BATCH_MESSAGES}",
        RECORD.format(db=database, keys=keys, near=pruned, rated=f"(SELECT tenant_id, message_id FROM {RATED_BEFORE})"),
    ]


def mend_sql(database: str, keys: str, ids: str, stored: str = "1") -> str:
    """Move the current opinions waiting for these traces to the traces' dimensions. ``stored``: a
    condition on ``traces_log`` that holds their stored reports (``consumers.bulk_traces``: the hours
    of their timestamps), so the lookup reads those hours only."""
    return MEND.format(db=database, keys=keys, ids=ids, stored=stored)
