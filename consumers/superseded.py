"""A client signal supersedes the server's derived signal of the same type on the same response.

The server derives ``rephrase`` and ``abandon`` (quality/derive.py) only where no signal of that
type exists yet, but the client's own may arrive later. Per-response views count a type once
whatever its origin; the hourly sums (``quality_hourly``, a projection of ``events_log``) would
count both. So when a response (tenant, trace, type) holds a client signal, its derived one is
cancelled: a cancel row (sign -1, the live row's version) that collapses with it, taking it out
of ``events`` and of every sum.

One idempotent statement, run for every derived-type event of a batch (stored now or before,
either origin), covers both orders and every replay: a client signal arriving after the derived
one cancels it; a derived one stored again after its cancelled pair was merged away (a replay)
meets the client signal and is cancelled again; run twice, the second run finds no live derived
row. A crash between the batch's insert and this statement is mended when the batch is read
again, as for current opinions (consumers/opinions.py).
"""

from __future__ import annotations

from consumers.rows import EVENT_COLUMNS
from schemas.vocabulary import DERIVED_TYPES

TYPES = ", ".join(f"'{kind}'" for kind in sorted(DERIVED_TYPES))
DERIVED = "origin = 'derived'"

# ``{keys}``: a subquery of (tenant_id, event_id) pairs, the batch's events; ``{near}`` prunes the
# lookup of those events to their hours (``consumers.event_time``). Their responses' derived signals
# are looked for within ``WINDOW_DAYS`` of the batch's event times: a derived signal is made within a
# day of its response (``FEEDBACK_DERIVE_LOOKBACK_S``), and a client signal is about the same
# response. Derived signals are few, so they are found first by ``origin`` (a small column read
# before any trace_id: the hours hold no derived signal, usually), and only their responses are then
# looked through for a client signal of the same type (by trace_id, the bloom-filter index). Then the
# superseded rows are read FINAL by their sort key (tenant, hour, event_id).
WINDOW_DAYS = 2
# the rows within WINDOW_DAYS of the batch's derived-type events (``batch`` in the statement)
IN_WINDOW = (
    f"ts >= (SELECT min(ts) FROM batch) - toIntervalDay({WINDOW_DAYS}) "
    f"AND ts <= (SELECT max(ts) FROM batch) + toIntervalDay({WINDOW_DAYS})"
)
SUPERSEDE = """
INSERT INTO {db}.events_log ({columns})
WITH
    batch AS (
        SELECT DISTINCT tenant_id, assumeNotNull(trace_id) AS trace_id, type, ts FROM {db}.events_log
        WHERE {near} AND (tenant_id, event_id) IN {keys} AND type IN ({types}) AND trace_id IS NOT NULL
    ),
    derived AS (
        SELECT tenant_id, event_id, toStartOfHour(ts) AS hour, assumeNotNull(trace_id) AS trace_id, type
        FROM {db}.events_log
        PREWHERE {derived} AND type IN ({types})
        WHERE {in_window}
            AND sign = 1 AND (tenant_id, assumeNotNull(trace_id), type) IN (SELECT tenant_id, trace_id, type FROM batch)
    ),
    superseded AS (
        SELECT tenant_id, hour, event_id FROM derived
        WHERE (tenant_id, trace_id, type) IN (
            SELECT tenant_id, assumeNotNull(trace_id), type FROM {db}.events_log
            WHERE trace_id IN (SELECT trace_id FROM derived) AND type IN ({types}) AND sign = 1 AND NOT {derived}
                AND {in_window}
                AND (tenant_id, assumeNotNull(trace_id), type) IN (SELECT tenant_id, trace_id, type FROM derived)
        )
    )
SELECT {cancel}
FROM {db}.events_log FINAL
WHERE (tenant_id, toStartOfHour(ts), event_id) IN superseded AND sign = 1
"""


def supersede_sql(database: str, keys: str, near: str | None = None) -> str:
    """The statement that cancels the derived signals superseded by a client signal, for the
    responses of the events ``keys`` names (idempotent). ``near``: a subquery of (tenant_id, hour,
    event_id) holding those events' hours (``consumers.event_time.near_hours``)."""
    return SUPERSEDE.format(
        db=database,
        keys=keys,
        near="1" if near is None else f"(tenant_id, toStartOfHour(ts), event_id) IN {near}",
        in_window=IN_WINDOW,
        types=TYPES,
        derived=DERIVED,
        columns=", ".join(EVENT_COLUMNS),
        # no alias: an alias named ``sign`` would be what the WHERE clause's ``sign`` reads
        cancel=", ".join("toInt8(-1)" if name == "sign" else name for name in EVENT_COLUMNS),
    )
