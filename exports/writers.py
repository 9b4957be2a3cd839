"""Write rows as JSON Lines or Parquet, one row at a time (Parquet in row groups), to a file or
a stream; the Parquet schema of each kind is fixed, so every file has the documented columns."""

from __future__ import annotations

from typing import Any, BinaryIO, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from exports.rows import Kind

PARQUET_ROW_GROUP = 4096

_STR = pa.string()
_LINEAGE = [
    pa.field("tenant", _STR),
    pa.field("conversation_id", _STR),
    pa.field("trace_id", _STR),
    pa.field("message_id", _STR),
    pa.field("time", _STR),
    pa.field("event_ids", pa.list_(_STR)),
]
_DIMENSIONS = [pa.field(name, _STR) for name in ("model", "model_version", "prompt_version", "feature")]

EVAL_SCHEMA = pa.schema(
    [
        pa.field("id", _STR),
        pa.field("input", _STR),
        pa.field("output", _STR),
        pa.field("expected", _STR),
        pa.field(
            "labels",
            pa.struct(
                [
                    pa.field("thumb", _STR),
                    pa.field("thumbs_up", pa.int64()),
                    pa.field("thumbs_down", pa.int64()),
                    pa.field("rating", pa.float64()),
                    pa.field("ratings", pa.int64()),
                    pa.field("reasons", pa.list_(_STR)),
                    pa.field("comments", pa.list_(_STR)),
                ]
            ),
        ),
        pa.field(
            "signals",
            pa.struct([pa.field(name, pa.int64()) for name in ("copies", "edits", "regenerates", "rephrases")]),
        ),
        pa.field(
            "trace",
            pa.struct(
                [
                    *_DIMENSIONS,
                    pa.field("latency_ms", pa.int64()),
                    pa.field("tool_failed", pa.bool_()),
                    pa.field("doc_ids", pa.list_(_STR)),
                ]
            ),
        ),
        pa.field("lineage", pa.struct(_LINEAGE)),
        pa.field(
            "annotations",
            pa.list_(
                pa.struct(
                    [
                        pa.field("queue", _STR),
                        pa.field("annotator", _STR),
                        pa.field("label", _STR),
                        pa.field("score", pa.float64()),
                        pa.field("reasons", pa.list_(_STR)),
                        pa.field("note", _STR),
                        pa.field("time", _STR),
                    ]
                )
            ),
        ),
    ]
)
_MESSAGES = pa.field("messages", pa.list_(pa.struct([pa.field("role", _STR), pa.field("content", _STR)])))
SFT_SCHEMA = pa.schema(
    [
        _MESSAGES,
        pa.field("metadata", pa.struct([pa.field("id", _STR), pa.field("source", _STR), *_LINEAGE, *_DIMENSIONS])),
    ]
)
_SIDE = pa.struct(
    [pa.field("source", _STR), *_LINEAGE, *_DIMENSIONS, pa.field("thumb", _STR), pa.field("rating", pa.float64())]
)
DPO_SCHEMA = pa.schema(
    [
        pa.field("prompt", _STR),
        pa.field("chosen", _STR),
        pa.field("rejected", _STR),
        pa.field(
            "metadata",
            pa.struct(
                [pa.field("id", _STR), pa.field("source", _STR), pa.field("chosen", _SIDE), pa.field("rejected", _SIDE)]
            ),
        ),
    ]
)


def schema_of(kind: Kind, metadata: bool = True) -> pa.Schema:
    schema = {Kind.EVAL: EVAL_SCHEMA, Kind.SFT: SFT_SCHEMA, Kind.DPO: DPO_SCHEMA}[kind]
    if not metadata and kind is not Kind.EVAL:
        schema = schema.remove(schema.get_field_index("metadata"))
    return schema


class RowWriter(Protocol):
    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class JsonlWriter:
    """One JSON object per line, keys in the documented order, UTF-8, ``\\n`` line ends."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink

    def write(self, row: dict[str, Any]) -> None:
        self._sink.write(orjson.dumps(row) + b"\n")

    def close(self) -> None:
        self._sink.flush()


class ParquetWriter:
    """Row groups of ``PARQUET_ROW_GROUP`` rows: memory holds one group at a time."""

    def __init__(self, sink: BinaryIO, schema: pa.Schema) -> None:
        self._schema = schema
        self._writer = pq.ParquetWriter(sink, schema, compression="zstd")
        self._pending: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        self._pending.append(row)
        if len(self._pending) >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_pylist(self._pending, schema=self._schema))
            self._pending = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def writer_for(output_format: str, kind: Kind, sink: BinaryIO, metadata: bool = True) -> RowWriter:
    if output_format == "parquet":
        return ParquetWriter(sink, schema_of(kind, metadata))
    return JsonlWriter(sink)
