"""The columns of a fast-path stage table, derived from the newest reader schema (``schemas/avro``).

ClickHouse reads a batch's Avro bodies into a session-local table whose columns are the reader
schema's fields (``consumers.bulk``, ``consumers.bulk_traces``); deriving them here means a new
schema version changes the stage tables by itself, with no list to keep in step by hand.
"""

from __future__ import annotations

from typing import Any

from schemas.catalog import default_catalog

PRIMITIVES = {"string": "String", "long": "Int64", "int": "Int32", "boolean": "Bool", "double": "Float64"}
LOGICAL = {"timestamp-millis": "DateTime64(3, 'UTC')"}
# What ClickHouse fills a column with when an older writer lacks the field: a default that differs
# from the type's own must be spelled out (input_format_avro_allow_missing_fields).
ZERO = {"String": "", "Int64": 0, "Int32": 0, "Bool": False, "Float64": 0.0}


def clickhouse_type(avro: Any) -> str:
    """The ClickHouse type an Avro type is read into."""
    if isinstance(avro, list):
        branches = [branch for branch in avro if branch != "null"]
        if len(branches) > 1:  # a Variant holds NULL itself
            return f"Variant({', '.join(sorted(clickhouse_type(branch) for branch in branches))})"
        inner = clickhouse_type(branches[0])
        return f"Nullable({inner})" if len(branches) < len(avro) else inner
    if isinstance(avro, str):
        return PRIMITIVES[avro]
    logical = avro.get("logicalType")
    if logical in LOGICAL:
        return LOGICAL[logical]
    kind = avro["type"]
    if kind == "array":
        return f"Array({clickhouse_type(avro['items'])})"
    if kind == "map":
        return f"Map(String, {clickhouse_type(avro['values'])})"
    if kind == "record":
        elements = (f"{field['name']} {clickhouse_type(field['type'])}" for field in avro["fields"])
        return f"Tuple({', '.join(elements)})"
    return clickhouse_type(kind)


def column_type(field: dict[str, Any]) -> str:
    kind = clickhouse_type(field["type"])
    default = field.get("default")
    if kind in ZERO and default is not None and default != ZERO[kind]:
        return f"{kind} DEFAULT {_literal(default)}"
    return kind


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value).lower() if isinstance(value, bool) else str(value)


def stage_columns(subject: str) -> dict[str, str]:
    """Column → ClickHouse type of the newest ``subject`` reader schema, in its field order."""
    fields = default_catalog().latest(subject).definition["fields"]
    return {field["name"]: column_type(field) for field in fields}
