"""What the worker's decode step makes of a message before any step stores it."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.catalog import SchemaVersion


@dataclass(frozen=True)
class Framed:
    """A message whose header named its writer schema; the body is still Avro (decoded by
    ClickHouse on the fast path, ``consumers.bulk``, or by fastavro on the slow path,
    ``consumers.records``)."""

    writer: SchemaVersion
    body: bytes
