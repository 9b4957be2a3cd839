"""Every published Avro schema version in ``schemas/avro/<subject>/vN.avsc``, parsed once.

A subject's newest version is what producers write and consumers read into; older
versions stay so that old messages (and replays of them) can still be decoded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.errors import UnknownSchema

SUBJECTS = ("event", "trace")


@dataclass(frozen=True)
class SchemaVersion:
    subject: str
    version: int
    definition: dict[str, Any]  # the .avsc as written
    parsed: Any  # fastavro's parsed form, made once
    fingerprint: bytes  # CRC-64-AVRO of the parsing canonical form, little-endian (8 bytes)

    @property
    def canonical(self) -> str:
        return str(to_parsing_canonical_form(self.definition))


def parse_version(subject: str, version: int, text: str) -> SchemaVersion:
    definition = json.loads(text)
    canonical = to_parsing_canonical_form(definition)
    return SchemaVersion(
        subject=subject,
        version=version,
        definition=definition,
        parsed=parse_schema(definition),  # parsed once, with the hint that stops fastavro parsing it again
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
    )


class SchemaCatalog:
    """All versions of all subjects, looked up by subject or by fingerprint."""

    def __init__(self, versions: list[SchemaVersion]) -> None:
        self._by_subject: dict[str, list[SchemaVersion]] = {}
        for item in sorted(versions, key=lambda s: (s.subject, s.version)):
            self._by_subject.setdefault(item.subject, []).append(item)
        self._by_fingerprint = {item.fingerprint: item for item in versions}

    def versions(self, subject: str) -> list[SchemaVersion]:
        try:
            return list(self._by_subject[subject])
        except KeyError:
            raise UnknownSchema(f"no schema subject {subject!r}; known: {sorted(self._by_subject)}") from None

    def latest(self, subject: str) -> SchemaVersion:
        return self.versions(subject)[-1]

    def version(self, subject: str, number: int) -> SchemaVersion:
        for item in self.versions(subject):
            if item.version == number:
                return item
        raise UnknownSchema(f"no version {number} of schema {subject!r}")

    def by_fingerprint(self, fp: bytes) -> SchemaVersion:
        try:
            return self._by_fingerprint[fp]
        except KeyError:
            raise UnknownSchema(f"unknown writer schema fingerprint {fp.hex()}", fingerprint=fp.hex()) from None


@cache
def default_catalog() -> SchemaCatalog:
    """The schemas shipped in this package, read and parsed once per process."""
    root = resources.files("schemas") / "avro"
    versions = []
    for subject in SUBJECTS:
        for entry in (root / subject).iterdir():
            name = entry.name
            if name.startswith("v") and name.endswith(".avsc"):
                versions.append(parse_version(subject, int(name[1:-5]), entry.read_text()))
    return SchemaCatalog(versions)
