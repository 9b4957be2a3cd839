"""The range of every integer field of EVENT and TRACE: that of the ClickHouse column storing it.

One table of column types (``COLUMN_TYPES``, kept equal to ``sql/`` by a unit test) gives the
collector its bounds at intake (``fits_column``), and the worker the same check of what it reads
(``out_of_range``), so a number never wraps in a narrower column nor stalls a batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "UInt8": (0, 2**8 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
    "UInt64": (0, 2**64 - 1),
    "Int8": (-(2**7), 2**7 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
}

# subject → field path in the Avro record ("retrieval.chunk_count"; "tools.latency_ms" is each
# tool's) → the type of the ClickHouse column it is stored in (sql/0001_events.sql, 0002_traces.sql).
COLUMN_TYPES: dict[str, dict[str, str]] = {
    "event": {
        "edit_distance": "UInt32",
        "copied_chars": "UInt32",
        "attempt": "UInt32",
        "dwell_ms": "UInt32",
    },
    "trace": {
        "input_tokens": "UInt32",
        "output_tokens": "UInt32",
        "latency_ms": "UInt32",
        "time_to_first_token_ms": "UInt32",
        "retry_count": "UInt32",
        "retrieval.chunk_count": "UInt32",
        "retrieval.citations_shown": "UInt32",
        "tools.latency_ms": "UInt32",
    },
}


def bounds(subject: str, path: str) -> tuple[int, int]:
    return INTEGER_RANGES[COLUMN_TYPES[subject][path]]


def range_error(value: int, low: int, high: int) -> str | None:
    if value > high:
        return f"must be at most {high}"
    if value < low:
        return f"must be at least {low}"
    return None


def fields_of(subject: str, parent: str = "") -> list[str]:
    """The bounded fields of ``subject`` directly in ``parent`` (a nested record, or the top)."""
    prefix = f"{parent}." if parent else ""
    return [
        path.removeprefix(prefix)
        for path in COLUMN_TYPES[subject]
        if path.startswith(prefix) and "." not in path.removeprefix(prefix)
    ]


def fits_column(subject: str, path: str, value: int | None) -> int | None:
    """``value`` unchanged, or ValueError ``must be at most N`` / ``must be at least 0``."""
    if value is not None:
        problem = range_error(value, *bounds(subject, path))
        if problem:
            raise ValueError(problem)
    return value


def _values(record: dict[str, Any], path: str) -> Iterator[Any]:
    head, _, rest = path.partition(".")
    value = record.get(head)
    if not rest:
        yield value
    elif isinstance(value, dict):
        yield value.get(rest)
    elif isinstance(value, list):
        yield from (item.get(rest) for item in value if isinstance(item, dict))


def out_of_range(subject: str, record: dict[str, Any]) -> str | None:
    """``field: must be at most N`` for the first integer of ``record`` its column cannot hold."""
    for path, column in COLUMN_TYPES[subject].items():
        low, high = INTEGER_RANGES[column]
        for value in _values(record, path):
            if isinstance(value, int) and (problem := range_error(value, low, high)):
                return f"{path}: {problem}"
    return None
