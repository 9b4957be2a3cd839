"""Errors of the shared contract package."""

from __future__ import annotations


class SchemaError(Exception):
    """Base of every error raised by ``schemas``."""


class UnknownSchema(SchemaError):
    """A message names a writer schema this process does not know."""

    def __init__(self, message: str, *, fingerprint: str | None = None, schema_id: int | None = None) -> None:
        super().__init__(message)
        self.fingerprint = fingerprint
        self.schema_id = schema_id


class UndecodableMessage(SchemaError):
    """A message is not Avro in a framing we read, or its body does not match its writer schema."""


class RegistryUnavailable(SchemaError):
    """The schema registry is down or failing (unreachable, 5xx): the message is not at fault, so
    a consumer retries later (backpressure) and never dead-letters it for this."""
