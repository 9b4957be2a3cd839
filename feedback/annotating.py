"""``feedback sample`` and ``feedback annotate import|export|status`` (docs/contract.md §1).

They open the ClickHouse engine themselves (with the embedded engine: not while ``feedback up``
owns it, like ``derive``); labels can always come in through a running collector's
``POST /v1/annotations``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from clickhouse_connect.driver.client import Client
from rich.console import Console
from rich.table import Table

from annotation.export import export_queue
from annotation.sampling import SampleError, SampleRequest, SampleResult, Strategy, sample
from annotation.status import status
from exports.filters import FilterError, parse_time
from feedback.annotation_import import (
    ImportFailed,
    collector_sender,
    engine_sender,
    import_file,
    running_collector,
    secret_key,
)
from feedback.engine import engine_claim
from feedback.exporting import _sink
from runtime.logs import configure_logging
from runtime.migrations import migrate
from runtime.settings import Settings

SHOWN_STRATA = 25


class StatusFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


annotate_app = typer.Typer(
    help="Labels from reviewers: import them, export a queue for a labelling tool, see progress.",
    no_args_is_help=True,
)


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return settings


def _console() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=240)


@contextlib.contextmanager
def _engine(settings: Settings) -> Iterator[Client]:
    """The feedback database, migrated, for the duration."""
    with engine_claim(settings, None):
        migrate(settings.clickhouse().connect(), settings.clickhouse_database)
        client = settings.clickhouse().connect(database=settings.clickhouse_database)
        try:
            yield client
        finally:
            client.close()


def _reference_texts(paths: list[Path]) -> list[str]:
    """Input and output of each line of JSONL files (an eval export, an annotate export)."""
    texts = []
    for path in paths:
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise typer.BadParameter(f"{path}:{number}: not JSON ({exc})", param_hint="--reference") from None
            if isinstance(row, dict):
                texts.append(f"{row.get('input') or ''}\n{row.get('output') or ''}")
    return texts


def sample_command(
    queue: Annotated[str, typer.Option(help="The queue to add to (created by its first sample)")],
    size: Annotated[int, typer.Option(help="How many items to add")],
    strategy: Annotated[Strategy, typer.Option(help="How to pick (README: Annotation queues)")] = Strategy.MIXED,
    by: Annotated[str, typer.Option(help="stratified/mixed: feature, prompt_version or model_version")] = "feature",
    random_share: Annotated[
        float, typer.Option(help="mixed: share of the size drawn uniformly from all responses")
    ] = 0.1,
    seed: Annotated[int, typer.Option(help="Same seed and data, same sample")] = 0,
    since: Annotated[str | None, typer.Option(help="Responses from this time (ISO, or 2h, 7d before now)")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (default: every tenant)")] = None,
    reference: Annotated[
        list[Path] | None, typer.Option(help="novel: also stay away from the rows of this JSONL (e.g. an eval export)")
    ] = None,
) -> None:
    """Sample responses for review into the `annotation_queue` table: stratified, random, novel,
    cluster or mixed (flagged by stratified + a random share). Never queues an item twice."""
    settings = _settings()
    try:
        request = SampleRequest(
            queue=queue, size=size, strategy=strategy, by=by, random_share=random_share, seed=seed,
            since=parse_time(since, datetime.now(UTC), "--since") if since else None, tenant=tenant or None,
            reference=_reference_texts(reference or []),
        )  # fmt: skip
        request.check()
    except (SampleError, FilterError) as exc:
        raise typer.BadParameter(str(exc)) from None
    with _engine(settings) as client:
        result = sample(client, request)
    _print_sample(request, result)


def _print_sample(request: SampleRequest, result: SampleResult) -> None:
    table = Table("stratum", "candidates", "queued")
    for stratum in result.strata[:SHOWN_STRATA]:
        table.add_row(stratum.name, "-" if stratum.candidates is None else str(stratum.candidates), str(stratum.picked))
    rest = result.strata[SHOWN_STRATA:]
    if rest:  # clusters can be many: the biggest come first, the rest in one line
        table.add_row(
            f"... {len(rest)} more", str(sum(s.candidates or 0 for s in rest)), str(sum(s.picked for s in rest))
        )
    _console().print(table)
    typer.echo(
        f"queued {len(result.picks)} item(s) in {request.queue!r} ({request.strategy.value}, seed {request.seed}); "
        f"{result.flagged} flagged response(s) were not yet in the queue"
    )


@annotate_app.command("import")
def annotate_import(
    file: Annotated[Path, typer.Argument(help="JSONL: one annotation object per line (as POST /v1/annotations)")],
    tenant: Annotated[str, typer.Option(help="The tenant whose queues the labels are for")],
    key: Annotated[
        str | None, typer.Option(help="A secret key of the tenant, when going through a running pipeline")
    ] = None,
) -> None:
    """Store labels from a file; a bad line is reported with its reasons and the others go in.
    Exit 1 when any line was refused. Goes through the running pipeline when it owns the engine."""
    settings = _settings()
    try:
        http_addr = running_collector(settings)
        if http_addr is not None:
            result = import_file(file, collector_sender(http_addr, key or secret_key(settings, tenant)))
        else:
            with _engine(settings) as client:
                result = import_file(file, engine_sender(client, tenant))
    except ImportFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for rejection in result.refused:
        typer.echo(f"{file}:{rejection.index}: {'; '.join(rejection.errors)}", err=True)
    typer.echo(f"imported {result.accepted} label(s), refused {len(result.refused)}")
    if result.refused:
        raise typer.Exit(1)


@annotate_app.command("export")
def annotate_export(
    queue: Annotated[str, typer.Option(help="The queue to export")],
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's queue of that name")] = None,
    out: Annotated[Path | None, typer.Option(help="Write here (default: stdout)")] = None,
) -> None:
    """The queue's items as JSONL for a labelling tool: input, output, the users' signals and the
    labels so far."""
    settings = _settings()
    count = 0
    with _engine(settings) as client, _sink(out) as sink:
        for row in export_queue(client, queue, tenant):
            sink.write(orjson.dumps(row) + b"\n")
            count += 1
    typer.echo(f"exported {count} item(s) of queue {queue!r}", err=True)


@annotate_app.command("status")
def annotate_status(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    queue: Annotated[str | None, typer.Option(help="Only this queue")] = None,
    output: Annotated[StatusFormat, typer.Option("--format", help="table or json")] = StatusFormat.TABLE,
) -> None:
    """Per queue: items queued, items labelled, labels, annotators, and agreement where two or more
    annotators labelled one item (percent agreement, Fleiss' kappa; Cohen's kappa for two annotators)."""
    settings = _settings()
    with _engine(settings) as client:
        queues = status(client, tenant, queue)
    if output is StatusFormat.JSON:
        typer.echo(orjson.dumps([q.as_json() for q in queues]).decode())
        return
    table = Table("tenant", "queue", "queued", "labelled", "labels", "annotators", "co-labelled", "% agreement",
                  "Fleiss' kappa", "Cohen's kappa")  # fmt: skip
    for q in queues:
        a = q.agreement
        table.add_row(
            q.tenant_id, q.queue, str(q.queued), str(q.labelled), str(q.labels), str(q.annotators), str(a.items),
            _number(a.percent, percent=True), _number(a.fleiss_kappa), _number(a.cohen_kappa),
        )  # fmt: skip
    _console().print(table)


def _number(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.1f}" if percent else f"{value:.3f}"
