"""ClickHouse rows of ``events_log`` and ``traces_log`` from decoded Avro records.

Column lists are resolved here once; the store reuses one insert context per table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Row = list[Any]

# Columns copied as they are from the Avro record, around the three derived from ``value``.
EVENT_HEAD = (
    "tenant_id", "event_id", "type", "timestamp", "sent_at", "received_at", "ts", "conversation_id",
    "trace_id", "message_id", "turn_id", "response_id", "session_id", "user_id", "anonymous_id",
)  # fmt: skip
EVENT_VALUE = ("value", "thumb", "rating")
EVENT_TAIL = (
    "reasons", "comment", "edited_text", "edit_distance", "copied_chars", "attempt", "dwell_ms", "properties",
    "received_via", "redacted",
)  # fmt: skip
EVENT_FIELDS = (*EVENT_HEAD, *EVENT_VALUE, *EVENT_TAIL)
# What an event takes from its trace (``traces_log`` has each of these columns, the last three
# materialized from ``tools`` and ``retrieval``).
DIMENSIONS = (
    "model", "model_version", "provider", "deployment", "prompt_template", "prompt_version", "feature",
    "environment", "latency_ms", "input_tokens", "output_tokens", "time_to_first_token_ms", "streaming",
    "tool_failed", "tool_count", "retrieval_count", "citations_shown",
)  # fmt: skip
EVENT_COLUMNS = (*EVENT_FIELDS, *DIMENSIONS, "trace_joined", "version", "sign")
EVENT_INDEX = {name: i for i, name in enumerate(EVENT_COLUMNS)}

TRACE_FIELDS = (
    "tenant_id", "trace_id", "conversation_id", "received_at", "timestamp", "message_id", "response_id",
    "turn_id", "user_id", "model", "model_version", "provider", "deployment", "prompt_template",
    "prompt_version", "feature", "environment", "input_tokens", "output_tokens", "latency_ms",
    "time_to_first_token_ms", "streaming", "retrieval", "tools", "fallback_path", "moderation_flags",
    "retry_count", "truncated", "error", "input_text", "output_text", "properties", "redacted",
)  # fmt: skip
TRACE_COLUMNS = (*TRACE_FIELDS, "version", "sign")
TRACE_INDEX = {name: i for i, name in enumerate(TRACE_COLUMNS)}
NO_RETRIEVAL: tuple[list[str], list[float], None, None] = ([], [], None, None)


def _tool_failed(tool: dict[str, Any]) -> bool:
    return tool.get("success") is False or tool.get("error") is not None


# The dimensions a trace has no field of: what they are computed from (the others are copied).
DERIVED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "tool_failed": lambda trace: any(_tool_failed(tool) for tool in trace.get("tools") or []),
    "tool_count": lambda trace: len(trace.get("tools") or []),
    "retrieval_count": lambda trace: len((trace.get("retrieval") or {}).get("doc_ids") or []),  # documents
    "citations_shown": lambda trace: (trace.get("retrieval") or {}).get("citations_shown"),
}


@dataclass(frozen=True)
class TraceDims:
    """What an event takes from its trace: the values of ``DIMENSIONS``, in that order."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.values) != len(DIMENSIONS):
            raise ValueError(f"a trace's dimensions are {len(DIMENSIONS)} values, got {len(self.values)}")

    def __getitem__(self, name: str) -> Any:
        return self.values[DIMENSIONS.index(name)]

    @classmethod
    def of_trace(cls, trace: dict[str, Any]) -> TraceDims:
        return cls(tuple(DERIVED[name](trace) if name in DERIVED else trace.get(name) for name in DIMENSIONS))


UNJOINED = (None,) * len(DIMENSIONS)


def event_row(event: dict[str, Any], dims: TraceDims | None) -> Row:
    """A first version of an event's row, joined to its trace when ``dims`` is known."""
    kind = event["type"]
    value = event["value"]
    row = [event[name] for name in EVENT_HEAD]
    row += [
        None if value is None else str(value),
        value if kind == "thumbs" else None,
        value if kind == "rating" else None,
    ]
    row += [event[name] for name in EVENT_TAIL]
    row += dims.values if dims is not None else UNJOINED
    row += [dims is not None, 1, 1]
    return row


def rejoined_rows(stored: Row, dims: TraceDims) -> tuple[Row, Row]:
    """A stored unjoined row becomes its cancel row (-1, same version) and a joined next version (+1)."""
    cancel = list(stored)
    cancel[EVENT_INDEX["sign"]] = -1
    joined = list(stored)
    start = EVENT_INDEX[DIMENSIONS[0]]
    joined[start : start + len(DIMENSIONS)] = dims.values
    joined[EVENT_INDEX["trace_joined"]] = True
    joined[EVENT_INDEX["version"]] = stored[EVENT_INDEX["version"]] + 1
    joined[EVENT_INDEX["sign"]] = 1
    return cancel, joined


def trace_version(trace: dict[str, Any]) -> int:
    """Latest report wins: the version is the collector's receipt time in ms."""
    received = trace["received_at"]
    return int(received.timestamp() * 1000) if hasattr(received, "timestamp") else int(received)


def trace_row(trace: dict[str, Any]) -> Row:
    row = [trace[name] for name in TRACE_FIELDS]
    retrieval = trace["retrieval"]
    row[TRACE_INDEX["retrieval"]] = (
        NO_RETRIEVAL
        if retrieval is None
        else (
            retrieval["doc_ids"],
            retrieval["scores"],
            retrieval["chunk_count"],
            retrieval["citations_shown"],
        )
    )
    row[TRACE_INDEX["tools"]] = [
        (tool["name"], tool["success"], tool["latency_ms"], tool["error"]) for tool in trace["tools"]
    ]
    row += [trace_version(trace), 1]
    return row


def cancelled_trace_row(stored: Row) -> Row:
    cancel = list(stored)
    cancel[TRACE_INDEX["sign"]] = -1
    return cancel
