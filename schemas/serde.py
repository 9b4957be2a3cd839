"""Avro serde: single-object encoding (magic ``C3 01`` + 8-byte schema fingerprint + body).

Producers write with a subject's newest schema; consumers read whatever writer schema a
message names into the newest reader schema of that subject (Avro schema resolution).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, cast

from fastavro import schemaless_reader, schemaless_writer

from schemas.catalog import SchemaCatalog, SchemaVersion, default_catalog
from schemas.errors import UndecodableMessage

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
SINGLE_OBJECT_HEADER = len(SINGLE_OBJECT_MAGIC) + 8


class AvroEncoder:
    """Encodes records of one subject with its newest schema, in single-object framing."""

    def __init__(self, subject: str, catalog: SchemaCatalog | None = None) -> None:
        self.schema: SchemaVersion = (catalog or default_catalog()).latest(subject)
        self._header = SINGLE_OBJECT_MAGIC + self.schema.fingerprint

    def encode(self, record: dict[str, Any]) -> bytes:
        out = BytesIO()
        out.write(self._header)
        schemaless_writer(out, self.schema.parsed, record)
        return out.getvalue()


class AvroDecoder:
    """Decodes single-object Avro of one subject into its newest reader schema."""

    def __init__(self, subject: str, catalog: SchemaCatalog | None = None) -> None:
        self._catalog = catalog or default_catalog()
        self.reader: SchemaVersion = self._catalog.latest(subject)
        self.subject = subject

    def writer_of(self, payload: bytes) -> SchemaVersion:
        """The writer schema a message names; raises UnknownSchema or UndecodableMessage."""
        if payload[:2] != SINGLE_OBJECT_MAGIC or len(payload) < SINGLE_OBJECT_HEADER:
            raise UndecodableMessage("not Avro single-object encoded (no C3 01 marker and fingerprint)")
        writer = self._catalog.by_fingerprint(bytes(payload[2:SINGLE_OBJECT_HEADER]))
        if writer.subject != self.subject:
            raise UndecodableMessage(f"writer schema is of subject {writer.subject!r}, expected {self.subject!r}")
        return writer

    def decode(self, payload: bytes) -> dict[str, Any]:
        writer = self.writer_of(payload)
        reader = None if writer is self.reader else self.reader.parsed
        body = BytesIO(payload)
        body.seek(SINGLE_OBJECT_HEADER)
        try:
            record = cast(dict[str, Any], schemaless_reader(body, writer.parsed, reader))
        except Exception as exc:  # fastavro raises many kinds on a corrupt body
            raise UndecodableMessage(f"body does not match writer schema v{writer.version}: {exc}") from exc
        if body.tell() != len(payload):
            raise UndecodableMessage(f"{len(payload) - body.tell()} trailing bytes after the Avro body")
        return record
