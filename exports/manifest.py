"""``PATH.manifest.json`` beside an export: what it is, what made it, and what it holds."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from exports.filters import ExportFilters, format_time
from exports.rows import SCHEMA_VERSION, Kind
from exports.summary import Summary
from exports.writers import schema_of


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(
    path: Path,
    kind: Kind,
    output_format: str,
    filters: ExportFilters,
    summary: Summary,
    metadata: bool,
    exported_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind.value,
        "schema_version": SCHEMA_VERSION,
        "format": output_format,
        "file": path.name,
        "sha256": sha256_of(path),
        "columns": schema_of(kind, metadata).names,
        "filters": filters.as_json(),
        "metadata": metadata,
        **summary.as_json(),
        "exported_at": format_time(exported_at or datetime.now(UTC)),
    }


def write_manifest(path: Path, manifest: dict[str, Any]) -> Path:
    target = manifest_path(path)
    target.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return target
