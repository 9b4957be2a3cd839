"""The ``chat.feedback.submitted`` records of stored explicit events, built by ClickHouse.

Each announced event becomes one OTLP ``LogRecord`` in the OTLP/HTTP JSON encoding, made in the
query that reads the stored events back: Python only joins the strings into export requests
(``runtime.telemetry``). Building them in Python cost the worker ~100 µs per record (the
OpenTelemetry SDK checks every attribute, then its exporter encodes it), about a third of its
throughput at the bench's mix.

Attributes whose value is NULL (or an empty list of reasons) are left out, as the SDK did.
"""

from __future__ import annotations

from runtime.telemetry import EVENT_NAME

# (attribute, OTLP value kind, SQL expression over events_log) — the order they are sent in
ATTRIBUTES = (
    ("feedback.type", "string", "type"),
    ("feedback.event_id", "string", "event_id"),
    ("feedback.tenant_id", "string", "tenant_id"),
    ("feedback.conversation_id", "string", "conversation_id"),
    ("feedback.trace_id", "string", "trace_id"),
    ("feedback.message_id", "string", "message_id"),
    ("feedback.thumb", "string", "thumb"),
    ("feedback.rating", "int", "rating"),
    ("feedback.reasons", "strings", "reasons"),
    ("feedback.has_comment", "bool", "ifNull(comment, '') != ''"),
    ("feedback.trace_joined", "bool", "trace_joined"),
    ("gen_ai.request.model", "string", "model"),
    ("gen_ai.provider.name", "string", "provider"),
    ("feedback.model_version", "string", "model_version"),
    ("feedback.prompt_version", "string", "prompt_version"),
    ("feedback.feature", "string", "feature"),
    ("feedback.latency_ms", "int", "latency_ms"),
    ("feedback.tool_count", "int", "tool_count"),
    ("feedback.retrieval_source_count", "int", "retrieval_count"),
)


def _attribute(key: str, kind: str, column: str) -> str:
    """SQL for one attribute's JSON, after a comma (``''`` when it is left out)."""
    head = f'\',{{"key":"{key}","value":{{'
    if kind == "string":
        value = f"concat({head}\"stringValue\":', toJSONString(assumeNotNull({column})), '}}}}')"
    elif kind == "int":  # OTLP JSON writes 64-bit integers as strings
        value = f'concat({head}"intValue":"\', toString(assumeNotNull({column})), \'"}}}}\')'
    elif kind == "bool":
        return f"concat({head}\"boolValue\":', if({column}, 'true', 'false'), '}}}}')"
    elif kind == "strings":
        items = f"arrayStringConcat(arrayMap(x -> concat('{{\"stringValue\":', toJSONString(x), '}}'), {column}), ',')"
        return f"if(empty({column}), '', concat({head}\"arrayValue\":{{\"values\":[', {items}, ']}}}}}}'))"
    else:
        raise ValueError(f"attribute kind {kind!r}")
    return f"if(isNull({column}), '', {value})"


# The first attribute is never left out (the type): the others each bring their comma. Plain
# concatenation, no arrays: this is most of what announcing costs ClickHouse.
_FIRST, *_REST = ATTRIBUTES
RECORD = (
    'concat(\'{"timeUnixNano":"\', toString(toUnixTimestamp64Nano(ts)), '
    '\'","observedTimeUnixNano":"\', toString(toUnixTimestamp64Nano(now64(9))), '
    f'\'","eventName":"{EVENT_NAME}","attributes":[\', '
    f"substring({_attribute(*_FIRST)}, 2), {', '.join(_attribute(*a) for a in _REST)}, "
    "']}')"
)


def records_sql(database: str, keys: str) -> str:
    """One row per stored event among ``keys`` (a ``(tenant_id, event_id)`` subquery): its record,
    from its latest version (a joined event's, once it is joined)."""
    return (
        f"SELECT {RECORD} FROM {database}.events_log "
        f"WHERE (tenant_id, event_id) IN {keys} AND sign = 1 "
        "ORDER BY version DESC LIMIT 1 BY tenant_id, event_id"
    )
