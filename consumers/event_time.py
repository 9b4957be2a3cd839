"""Looking up stored events by event time: ``events_log`` sorts by tenant, the hour of ``ts``, event_id.

An event's corrected ``ts`` travels in its Kafka message, so a replay or a re-read batch carries the
very same ``ts`` as the stored copy. A client that sends the same event again gets a new
``received_at``, and its ``ts`` (``received_at - (sent_at - timestamp)``) may move by the difference
of network delays. So the worker looks for an event's stored copy in the hour of its ``ts`` and the
hours either side: the lookup reads those few hours of the log, whatever the length of history,
and a resend is recognised whenever its ``ts`` lies within an hour of the stored copy's
(docs/contract.md §7).
"""

from __future__ import annotations

NEAR_HOURS = 1  # a resend's ts may differ from the stored copy's by up to this many hours
# Feedback on a response comes after it: an event's ts precedes its trace's timestamp only by the
# difference of the two clocks (the collector's, the LLM backend's). A trace's arrival looks for the
# events waiting for it from this long before its timestamp on (docs/contract.md §7).
EVENT_BEFORE_TRACE_HOURS = 24


def after_traces(stage: str) -> str:
    """The condition on an ``events_log`` row's ``ts`` that can hold the events of the traces in
    ``stage`` (its sort key then reads those hours on, not the whole history)."""
    return f"ts >= (SELECT min(timestamp) FROM {stage}) - toIntervalHour({EVENT_BEFORE_TRACE_HOURS})"


def near_hours(source: str, where: str = "1") -> str:
    """A subquery of ``(tenant_id, toStartOfHour(ts), event_id)`` for every event of ``source`` (a
    table with tenant_id, ts, event_id) and each hour within ``NEAR_HOURS`` of its ``ts``: what the
    sort key of ``events_log`` can find directly."""
    offsets = ", ".join(str(h) for h in range(-NEAR_HOURS, NEAR_HOURS + 1))
    return (
        f"(SELECT tenant_id, toStartOfHour(ts + toIntervalHour(near)), event_id FROM {source} "
        f"ARRAY JOIN [{offsets}] AS near WHERE {where})"
    )
