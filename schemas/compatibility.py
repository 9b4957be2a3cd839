"""Schema compatibility, checked with fastavro's own resolution on generated records.

The rule for our subjects is FULL_TRANSITIVE: every reader version reads every writer version —
the current reader reads all older messages (replays), and older readers (workers not yet
upgraded) read what new producers write.
"""

from __future__ import annotations

import random
from io import BytesIO

from fastavro import schemaless_reader, schemaless_writer
from fastavro.utils import generate_many

from schemas.catalog import SchemaCatalog, SchemaVersion


def incompatibility(reader: SchemaVersion, writer: SchemaVersion, samples: int = 200, seed: int = 7) -> str | None:
    """Why ``reader`` cannot read what ``writer`` writes, or None when it can."""
    state = random.getstate()
    random.seed(seed)
    try:
        for record in generate_many(writer.definition, samples):
            out = BytesIO()
            schemaless_writer(out, writer.parsed, record)
            out.seek(0)
            try:
                schemaless_reader(out, writer.parsed, reader.parsed)
            except Exception as exc:  # fastavro's SchemaResolutionError and friends
                return f"reader v{reader.version} cannot read writer v{writer.version}: {exc}"
    finally:
        random.setstate(state)
    return None


def check_full_transitive(catalog: SchemaCatalog, subject: str) -> list[str]:
    """Every problem between any two versions of ``subject`` (empty when all is well)."""
    versions = catalog.versions(subject)
    return [
        problem
        for reader in versions
        for writer in versions
        if reader is not writer and (problem := incompatibility(reader, writer)) is not None
    ]
