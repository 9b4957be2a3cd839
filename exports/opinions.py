"""Current opinions: each rater's latest thumb and, separately, latest 1-5 rating on a response.

The one place that says who a rater is and which of their explicit signals still counts, so a
change of either (e.g. a new identity field) is made here once. See docs/contract.md (EVENT:
"a later thumbs or rating from the same user on the same message replaces the earlier one").
"""

from __future__ import annotations

# Who gave an opinion: the rater the worker stored with the event (docs/contract.md §7: the user,
# else the session, else the browser's anonymous id; a signal naming none is a rater of its own),
# the same rater ``ratings_current`` and ``quality_hourly`` count by.
RATER = "rater"

# Latest by event time, ties to the larger event_id, so every run picks the same event.
_LATEST = "tuple(ts, event_id)"


def current_opinions_sql(where: str) -> str:
    """One row per (tenant_id, trace_key, rater) with the rater's current opinion on that response.

    ``thumb`` is 'up' or 'down', NULL when the rater gave none or took it back (a later ``none``);
    ``rating`` is the latest 1-5 rating or NULL; a take-back of the thumb leaves the rating alone.
    Each comes with its reasons/comment, event_id and ts. A response is a trace: opinions are keyed
    by trace_id (rather than message_id alone) so that a message regenerated in place keeps each
    attempt's opinions apart. ``where`` filters the events (e.g. a tenant clause with parameters).
    """
    return f"""
        SELECT
            tenant_id, trace_key, rater,
            if(tupleElement(last_thumb, 1) IN ('up', 'down'), tupleElement(last_thumb, 1), NULL) AS thumb,
            tupleElement(last_thumb, 2) AS thumb_reasons,
            tupleElement(last_thumb, 3) AS thumb_comment,
            tupleElement(last_thumb, 4) AS thumb_event_id,
            tupleElement(last_thumb, 5) AS thumb_ts,
            tupleElement(last_rating, 1) AS rating,
            tupleElement(last_rating, 2) AS rating_comment,
            tupleElement(last_rating, 3) AS rating_event_id,
            tupleElement(last_rating, 4) AS rating_ts,
            first_message_id AS message_id,
            first_conversation_id AS conversation_id,
            first_ts
        FROM
        (
            SELECT
                tenant_id,
                ifNull(trace_id, '') AS trace_key,
                {RATER} AS rater,
                argMaxIf(tuple(thumb, reasons, ifNull(comment, ''), event_id, ts), {_LATEST}, type = 'thumbs')
                    AS last_thumb,
                argMaxIf(tuple(rating, ifNull(comment, ''), event_id, ts), {_LATEST}, type = 'rating')
                    AS last_rating,
                min(message_id) AS first_message_id,
                min(conversation_id) AS first_conversation_id,
                min(ts) AS first_ts
            FROM events
            WHERE type IN ('thumbs', 'rating') AND trace_id IS NOT NULL AND ({where})
            GROUP BY tenant_id, trace_key, rater
        )
    """
