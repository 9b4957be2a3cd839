"""An optional Confluent schema registry (``FEEDBACK_SCHEMA_REGISTRY_URL``).

Producers register the newest schema under ``<topic>-value`` (topic-name strategy) and frame
messages in the Confluent wire format (``00`` + 4-byte schema id); consumers look ids up.
The registry protocol is confluent-kafka's ``SchemaRegistryClient``; framing and resolution
stay ours, so both framings decode the same way.
"""

from __future__ import annotations

import json
import threading

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.catalog import SchemaCatalog, SchemaVersion, default_catalog, parse_version
from schemas.errors import RegistryUnavailable, SchemaError, UnknownSchema


class SchemaRegistry:
    def __init__(self, url: str, catalog: SchemaCatalog | None = None) -> None:
        self._client = SchemaRegistryClient({"url": url})
        self._catalog = catalog or default_catalog()
        self._by_id: dict[int, SchemaVersion] = {}
        self._lock = threading.Lock()

    def register(self, topic: str, schema: SchemaVersion) -> int:
        """The registry's id for ``schema`` under the topic's value subject (registered if new)."""
        try:
            return int(
                self._client.register_schema(
                    f"{topic}-value", Schema(json.dumps(schema.definition), schema_type="AVRO")
                )
            )
        except SchemaRegistryError as exc:
            raise SchemaError(f"schema registry refused {schema.subject} v{schema.version} for {topic}: {exc}") from exc

    def writer(self, schema_id: int) -> SchemaVersion:
        """The writer schema behind an id: one of ours when its fingerprint matches, else parsed once."""
        with self._lock:
            known = self._by_id.get(schema_id)
        if known is not None:
            return known
        try:
            text = self._client.get_schema(schema_id).schema_str
        except SchemaRegistryError as exc:
            # Only an answer about the id itself (4xx, e.g. 404 "schema not found") condemns the
            # message; a failing registry (5xx, or a status without meaning here) is an outage.
            if 400 <= exc.http_status_code < 500:
                raise UnknownSchema(f"schema id {schema_id} not in the registry: {exc}", schema_id=schema_id) from exc
            raise RegistryUnavailable(f"schema registry failed looking up id {schema_id}: {exc}") from exc
        except Exception as exc:
            # Transport errors (refused, reset, timeout) surface as the HTTP library that
            # confluent-kafka bundles raises them; none of them says anything about the message.
            raise RegistryUnavailable(f"schema registry unreachable looking up id {schema_id}: {exc}") from exc
        if text is None:
            raise UnknownSchema(f"schema id {schema_id}: the registry returned no schema", schema_id=schema_id)
        definition = json.loads(text)
        fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(definition), "CRC-64-AVRO"))
        try:
            version = self._catalog.by_fingerprint(fp)
        except UnknownSchema:
            version = parse_version("registry", -schema_id, text)
        with self._lock:
            self._by_id[schema_id] = version
        return version
