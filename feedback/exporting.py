"""``feedback export``: here on the engine, or through the running pipeline that owns it.

In embedded mode a running ``feedback up`` holds the engine (chdb allows one process per path),
so the CLI asks its collector (``POST /v1/export``, see ``feedback.export_endpoint``) to run the
export in that process and writes the rows it streams back exactly as it would write its own.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson

from exports.manifest import build_manifest, write_manifest
from exports.run import export_rows, total_responses
from exports.summary import Summary
from exports.writers import writer_for
from feedback.engine import EngineBusy, engine_claim, pipeline_address
from feedback.export_endpoint import ExportRequest, engine_message, scoped
from feedback.querying import admin_key
from feedback.remote import error_of
from producers.errors import CollectorError
from producers.keys import KeyStore
from runtime.settings import Settings

FORMATS = ("jsonl", "parquet")

Bar = Callable[[int], contextlib.AbstractContextManager[Callable[[int], None]]]


class ExportFailed(Exception):
    """The export could not run; the message says why."""


def run_export(
    settings: Settings,
    request: ExportRequest,
    out: Path | None,
    output_format: str,
    key: str | None,
    bar: Bar | None,
) -> Summary:
    """Write the export to ``out`` (atomically, with its manifest) or stdout; returns its summary."""
    try:
        address = pipeline_address(settings, "export")
    except EngineBusy as exc:
        raise ExportFailed(str(exc)) from None
    if key is not None:
        try:
            request = ExportRequest(
                request.kind,
                scoped(KeyStore.load(settings.keys_file).authenticate(key), request.filters),
                request.metadata,
            )
        except CollectorError as exc:
            raise ExportFailed(exc.message) from None
    with _sink(out) as sink:
        writer = writer_for(output_format, request.kind, sink, request.metadata)
        if address is not None:
            summary = _remote(address, key or _admin_key(settings), request, writer.write, bar)
        else:
            summary = _here(settings, request, writer.write, bar)
        writer.close()
    if out is not None:
        write_manifest(
            out, build_manifest(out, request.kind, output_format, request.filters, summary, request.metadata)
        )
    return summary


@contextlib.contextmanager
def _sink(out: Path | None) -> Iterator[BinaryIO]:
    """stdout, or a temporary file renamed to ``out`` only once complete."""
    if out is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("wb") as handle:
            yield handle
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _admin_key(settings: Settings) -> str:
    try:
        return admin_key(settings)
    except RuntimeError as exc:
        raise ExportFailed(f"{exc}; or pass --key with an admin or analyst key") from None


def _here(
    settings: Settings, request: ExportRequest, write: Callable[[dict[str, Any]], None], bar: Bar | None
) -> Summary:
    summary = Summary()
    with engine_claim(settings, None), contextlib.ExitStack() as stack:
        try:
            client = settings.clickhouse().connect(database=settings.clickhouse_database)
            stack.callback(client.close)
            advance = None
            if bar is not None:
                advance = stack.enter_context(bar(total_responses(client, request.filters)))
            rows = stack.enter_context(
                contextlib.closing(
                    export_rows(client, request.kind, request.filters, summary, request.metadata, advance)
                )
            )
            for row in rows:
                write(row)
        except OSError:
            raise  # writing the output failed: the message is the system's
        except Exception as exc:
            raise ExportFailed(engine_message(exc)) from exc
    return summary


def _remote(
    http_addr: str, key: str, request: ExportRequest, write: Callable[[dict[str, Any]], None], bar: Bar | None
) -> Summary:
    body = {**request.as_json(), "total": bar is not None}
    try:
        with (
            httpx.stream(
                "POST",
                f"http://{http_addr}/v1/export",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
                timeout=httpx.Timeout(30, read=None),
            ) as response,
            contextlib.ExitStack() as stack,
        ):
            if response.status_code != 200:
                raise ExportFailed(error_of(response))
            advance: Callable[[int], None] = lambda _n: None  # noqa: E731
            for line in response.iter_lines():
                if not line:
                    continue
                item = orjson.loads(line)
                if "row" in item:
                    write(item["row"])
                elif "progress" in item:
                    advance(item["progress"])
                elif "total" in item and bar is not None:
                    advance = stack.enter_context(bar(item["total"]))
                elif "done" in item:
                    return Summary.from_json(item["done"])
                elif "error" in item:
                    raise ExportFailed(item["error"])
    except httpx.HTTPError as exc:
        raise ExportFailed(f"the running collector at {http_addr} did not answer: {exc}") from exc
    raise ExportFailed(f"the running collector at {http_addr} ended the export early")
