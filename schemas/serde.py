"""Avro serde in two framings, read alike:

- single-object encoding: ``C3 01`` + the writer schema's 8-byte CRC-64-AVRO fingerprint + body
  (the default: the schemas shipped in ``schemas/avro`` are all a reader needs);
- the Confluent wire format: ``00`` + 4-byte schema id + body, when a schema registry is configured.

Producers write with a subject's newest schema; consumers read whatever writer schema a message
names into the newest reader schema of that subject (Avro schema resolution).
"""

from __future__ import annotations

import struct
from io import BytesIO
from typing import Any, cast

from fastavro import schemaless_reader, schemaless_writer

from schemas.catalog import SchemaCatalog, SchemaVersion, default_catalog
from schemas.compiled_writer import Unsupported, compile_writer
from schemas.errors import UndecodableMessage
from schemas.registry import SchemaRegistry

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
SINGLE_OBJECT_HEADER = len(SINGLE_OBJECT_MAGIC) + 8
CONFLUENT_MAGIC = b"\x00"
CONFLUENT_HEADER = 5


class AvroEncoder:
    """Encodes records of one subject (newest schema, or ``version``); with a registry and the
    topic, in the Confluent wire format under ``<topic>-value``."""

    def __init__(
        self,
        subject: str,
        catalog: SchemaCatalog | None = None,
        *,
        version: int | None = None,
        registry: SchemaRegistry | None = None,
        topic: str | None = None,
    ) -> None:
        catalog = catalog or default_catalog()
        self.schema: SchemaVersion = catalog.latest(subject) if version is None else catalog.version(subject, version)
        if registry is not None:
            if topic is None:
                raise ValueError("a registry-framed encoder needs the topic (topic-name strategy)")
            schema_id = registry.register(topic, self.schema)
            self._header = CONFLUENT_MAGIC + schema_id.to_bytes(4, "big")
        else:
            self._header = SINGLE_OBJECT_MAGIC + self.schema.fingerprint
        self._compiled = compile_writer(self.schema.parsed)

    def encode(self, record: dict[str, Any]) -> bytes:
        if self._compiled is not None:
            try:
                return self._header + self._compiled(record)
            except (Unsupported, KeyError, ValueError, OverflowError, struct.error):
                pass  # a value the compiled writer leaves to fastavro (its bytes, or its error)
        out = BytesIO()
        out.write(self._header)
        schemaless_writer(out, self.schema.parsed, record)
        return out.getvalue()


class AvroDecoder:
    """Decodes either framing of one subject into its newest reader schema."""

    def __init__(
        self, subject: str, catalog: SchemaCatalog | None = None, registry: SchemaRegistry | None = None
    ) -> None:
        self._catalog = catalog or default_catalog()
        self._registry = registry
        self.reader: SchemaVersion = self._catalog.latest(subject)
        self.subject = subject

    def writer_of(self, payload: bytes) -> tuple[SchemaVersion, int]:
        """The writer schema a message names and where its body starts."""
        if payload[:2] == SINGLE_OBJECT_MAGIC and len(payload) >= SINGLE_OBJECT_HEADER:
            writer = self._catalog.by_fingerprint(bytes(payload[2:SINGLE_OBJECT_HEADER]))
            if writer.subject != self.subject:
                raise UndecodableMessage(f"writer schema is of subject {writer.subject!r}, expected {self.subject!r}")
            return writer, SINGLE_OBJECT_HEADER
        if payload[:1] == CONFLUENT_MAGIC and len(payload) >= CONFLUENT_HEADER:
            if self._registry is None:
                raise UndecodableMessage("Confluent wire format, but no schema registry is configured")
            return self._registry.writer(int.from_bytes(payload[1:CONFLUENT_HEADER], "big")), CONFLUENT_HEADER
        raise UndecodableMessage("neither Avro single-object encoding (C3 01) nor the Confluent wire format (00)")

    def decode(self, payload: bytes) -> dict[str, Any]:
        writer, start = self.writer_of(payload)
        return self.decode_body(writer, payload[start:])

    def decode_body(self, writer: SchemaVersion, payload: bytes) -> dict[str, Any]:
        """The body alone (framing already read), resolved into the reader schema."""
        reader = None if writer is self.reader else self.reader.parsed
        body = BytesIO(payload)
        try:
            record = cast(dict[str, Any], schemaless_reader(body, writer.parsed, reader))
        except Exception as exc:  # fastavro raises many kinds on a corrupt body
            raise UndecodableMessage(f"body does not match writer schema v{writer.version}: {exc}") from exc
        if body.tell() != len(payload):
            raise UndecodableMessage(f"{len(payload) - body.tell()} trailing bytes after the Avro body")
        return record
