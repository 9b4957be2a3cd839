"""Looking up stored rows by time: ``events_log`` sorts by tenant, the hour of ``ts``, event_id, and
``traces_log`` by tenant, the hour of ``timestamp``, trace_id.

An event's corrected ``ts`` travels in its Kafka message, so a replay or a re-read batch carries the
very same ``ts`` as the stored copy. A client that sends the same event again gets a new
``received_at``, and its ``ts`` (``received_at - (sent_at - timestamp)``) may move by the difference
of network delays. So the worker looks for an event's stored copy in the hour of its ``ts`` and the
hours either side: the lookup reads those few hours of the log, whatever the length of history,
and a resend is recognised whenever its ``ts`` lies within an hour of the stored copy's
(docs/contract.md §7). A trace's stored report is looked for the same way, by its ``timestamp``
(the LLM backend's, carried unchanged by a replay; a newer report of a response keeps it).

An event's trace was reported before it, usually minutes before: it is looked for first in the
hours up to ``TRACE_BEFORE_EVENT_HOURS`` before the event's ``ts``, and only the events whose trace
is not there are looked up through all of history.
"""

from __future__ import annotations

NEAR_HOURS = 1  # a resend's ts may differ from the stored copy's by up to this many hours
# Feedback on a response comes after it: an event's ts precedes its trace's timestamp only by the
# difference of the two clocks (the collector's, the LLM backend's). A trace's arrival looks for the
# events waiting for it from this long before its timestamp on (docs/contract.md §7).
EVENT_BEFORE_TRACE_HOURS = 24
# Where an event's trace is looked for first: the hours of its ts and this many before it (and the
# hour after, for the clocks' difference); the events whose trace is not there, through all history.
TRACE_BEFORE_EVENT_HOURS = 3


def after_traces(stage: str) -> str:
    """The condition on an ``events_log`` row's ``ts`` that can hold the events of the traces in
    ``stage`` (its sort key then reads those hours on, not the whole history)."""
    return f"ts >= (SELECT min(timestamp) FROM {stage}) - toIntervalHour({EVENT_BEFORE_TRACE_HOURS})"


def hours_around(
    source: str, where: str = "1", *, time: str = "ts", key: str = "event_id", offsets: range | None = None
) -> str:
    """A subquery of ``(tenant_id, hour, key)`` for every row of ``source`` and each hour at
    ``offsets`` (default: within ``NEAR_HOURS``) of its ``time``: what a sort key of tenant, hour and
    id can find directly."""
    hours = offsets if offsets is not None else range(-NEAR_HOURS, NEAR_HOURS + 1)
    return (
        f"(SELECT tenant_id, toStartOfHour({time} + toIntervalHour(near)), {key} FROM {source} "
        f"ARRAY JOIN [{', '.join(str(h) for h in hours)}] AS near WHERE {where})"
    )


def near_hours(source: str, where: str = "1") -> str:
    """``(tenant_id, toStartOfHour(ts), event_id)`` of every event of ``source`` (a table with
    tenant_id, ts, event_id) and each hour within ``NEAR_HOURS`` of its ``ts``: what the sort key of
    ``events_log`` can find directly."""
    return hours_around(source, where)


def near_trace_hours(source: str) -> str:
    """``(tenant_id, toStartOfHour(timestamp), trace_id)`` of every trace of ``source`` (a table with
    tenant_id, timestamp, trace_id) and each hour within ``NEAR_HOURS`` of its ``timestamp``: where
    ``traces_log`` holds a stored report of it."""
    return hours_around(source, time="timestamp", key="trace_id")


def traces_before(source: str, where: str = "1") -> str:
    """``(tenant_id, hour, trace_id)`` of every event of ``source`` (tenant_id, ts, trace_id) and each
    hour from ``TRACE_BEFORE_EVENT_HOURS`` before its ``ts`` to the one after: where ``traces_log``
    holds the trace of an event, but for feedback that came hours after its response."""
    return hours_around(
        source, where, key="assumeNotNull(trace_id)", offsets=range(-TRACE_BEFORE_EVENT_HOURS, NEAR_HOURS + 1)
    )
