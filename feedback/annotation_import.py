"""``feedback annotate import FILE.jsonl``: labels from a file, one ``POST /v1/annotations`` item
per line, in batches of at most 1000. Straight into the engine, or, while a running pipeline owns
the embedded engine, through its collector's ``/v1/annotations`` with a secret key of the tenant.
Either way each refused line comes back with its line number and reasons; the others go in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from annotation.store import store
from feedback.engine import EngineBusy, pipeline_address
from feedback.remote import error_of, post_to_pipeline
from producers.annotations import AnnotationRejection, validate
from producers.keys import KeyKind, KeyStore
from runtime.settings import Settings
from schemas.annotations import ITEMS_MAX

# A batch of (line number, parsed item) → (how many were stored, refusals by position in the batch)
Sender = Callable[[list[Any]], tuple[int, list[AnnotationRejection]]]


class ImportFailed(Exception):
    """The labels could not be sent at all (no collector, no key, an answer that is not per item)."""


@dataclass
class ImportResult:
    accepted: int = 0
    refused: list[AnnotationRejection] = field(default_factory=list)  # index = the line number


def batches(path: Path) -> Iterator[tuple[list[tuple[int, Any]], list[AnnotationRejection]]]:
    """Parsed lines (line number, object) in batches, and the lines that are not JSON."""
    items: list[tuple[int, Any]] = []
    bad: list[AnnotationRejection] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                items.append((number, orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                bad.append(AnnotationRejection(number, None, [f"line: not JSON ({exc})"]))
            if len(items) == ITEMS_MAX:
                yield items, bad
                items, bad = [], []
    if items or bad:
        yield items, bad


def import_file(path: Path, send: Sender) -> ImportResult:
    result = ImportResult()
    for items, bad in batches(path):
        result.refused += bad
        if not items:
            continue
        accepted, refused = send([item for _, item in items])
        result.accepted += accepted
        result.refused += [AnnotationRejection(items[r.index][0], r.item_id, r.errors) for r in refused]
    result.refused.sort(key=lambda r: r.index)
    return result


def engine_sender(client: Client, tenant: str) -> Sender:
    def send(items: list[Any]) -> tuple[int, list[AnnotationRejection]]:
        checked = validate(items)
        refused = store(client, tenant, checked.items, time.time_ns() // 1_000_000, "import")
        return len(checked.items) - len(refused), [*checked.rejected, *refused]

    return send


def secret_key(settings: Settings, tenant: str) -> str:
    for api_key in KeyStore.load(settings.keys_file).all():
        if api_key.kind is KeyKind.SECRET and api_key.tenant == tenant:
            return api_key.key
    raise ImportFailed(f"no secret key of tenant {tenant!r} in {settings.keys_file}; pass --key")


def collector_sender(http_addr: str, key: str) -> Sender:
    def send(items: list[Any]) -> tuple[int, list[AnnotationRejection]]:
        response = post_to_pipeline(
            http_addr, "/v1/annotations", key, {"annotations": items}, timeout=60, failure=ImportFailed
        )
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code not in (200, 400) or "rejected" not in body:
            raise ImportFailed(error_of(response))
        refused = [AnnotationRejection(r["index"], r.get("item_id"), r["errors"]) for r in body["rejected"]]
        return int(body.get("accepted", 0)), refused

    return send


def running_collector(settings: Settings) -> str | None:
    """The address of the pipeline that owns the embedded engine, if one does."""
    try:
        return pipeline_address(settings, "import")
    except EngineBusy as exc:
        raise ImportFailed(str(exc)) from None
