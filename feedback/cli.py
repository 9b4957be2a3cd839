"""The ``feedback`` command line (CONTRACT.md section 1)."""

from __future__ import annotations

import signal
import threading
from enum import StrEnum
from typing import Annotated

import orjson
import structlog
import typer
from rich.console import Console
from rich.table import Table

from consumers.rejoin import rejoin_all
from feedback.querying import QueryFailed, run_query
from feedback.services import WORKER_TOPIC_KINDS, CollectorServer, engine_claim, make_collector, make_worker
from producers.keys import KeyKind, KeyStore, write_dev_keys
from runtime.kafka import ensure_topics
from runtime.logs import configure_logging
from runtime.migrations import migrate as apply_migrations
from runtime.settings import Settings

app = typer.Typer(
    help="feedback-pipeline: user feedback on LLM responses, from HTTP to ClickHouse.", no_args_is_help=True
)
kafka_app = typer.Typer(help="The local single-node Kafka broker (for machines without one).", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
log = structlog.get_logger("feedback")
console = Console()


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return settings


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@app.command()
def up() -> None:
    """Run the whole pipeline here: local Kafka (unless FEEDBACK_KAFKA_BOOTSTRAP is set), migrations,
    collector and worker. Ctrl-C or SIGTERM stops it cleanly."""
    settings = _settings()
    if not settings.keys_file.exists():
        keys = write_dev_keys(settings.keys_file)
        log.info("keys.created", file=str(settings.keys_file), **keys)
    broker = settings.local_broker() if settings.uses_local_kafka else None
    started_broker = broker.start() if broker is not None else False
    stop, crashed = threading.Event(), threading.Event()
    try:
        ensure_topics(settings)
        with engine_claim(settings, settings.http_addr):
            client = settings.clickhouse().connect()
            apply_migrations(client, settings.clickhouse_database)
            server = CollectorServer(settings, make_collector(settings))
            worker = make_worker(settings, client, stop=stop)

            def run_worker() -> None:
                try:
                    worker.run()
                except Exception:
                    # Serving HTTP without a worker would pile events up unseen: stop everything.
                    crashed.set()
                    server.stop()

            worker_thread = threading.Thread(target=run_worker, name="worker", daemon=True)
            worker_thread.start()
            log.info(
                "pipeline.up",
                http=f"http://{settings.http_addr}",
                kafka=settings.kafka_bootstrap,
                keys=str(settings.keys_file),
            )
            try:
                server.run()
            finally:
                stop.set()
                worker_thread.join(timeout=60)
    finally:
        if started_broker and broker is not None:
            broker.stop()
    if crashed.is_set():
        log.error("pipeline.down", reason="the worker crashed; see worker.crashed above")
        raise typer.Exit(1)
    log.info("pipeline.down")


@app.command()
def collector() -> None:
    """The HTTP edge collector alone."""
    settings = _settings()
    ensure_topics(settings)
    CollectorServer(settings, make_collector(settings)).run()


@app.command()
def worker(
    group: Annotated[str | None, typer.Option(help="Consumer group (default FEEDBACK_WORKER_GROUP)")] = None,
    topics: Annotated[
        str | None,
        typer.Option(help="Comma-separated topic kinds or names (default: explicit,implicit,traces)"),
    ] = None,
) -> None:
    """Consumer workers alone: Kafka → ClickHouse."""
    settings = _settings()
    ensure_topics(settings)
    names = None
    if topics:
        names = [settings.topic(t) if t in WORKER_TOPIC_KINDS else t for t in topics.split(",") if t]
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())  # finish the batch, commit, close
    with engine_claim(settings, None):
        client = settings.clickhouse().connect()
        apply_migrations(client, settings.clickhouse_database)
        make_worker(settings, client, group=group, topics=names, stop=stop).run()


@app.command()
def migrate(
    database: Annotated[
        str | None, typer.Option(help="Database to migrate (default FEEDBACK_CLICKHOUSE_DATABASE)")
    ] = None,
) -> None:
    """Apply the sql/ migrations (idempotent, versioned)."""
    settings = _settings()
    applied = apply_migrations(settings.clickhouse().connect(), database or settings.clickhouse_database)
    console.print(
        f"applied {len(applied)} migration(s)"
        + (": " + ", ".join(f"{m.version:04d}_{m.name}" for m in applied) if applied else "")
    )


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="A read-only SQL statement")],
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = OutputFormat.TABLE,
) -> None:
    """Read-only query against the configured ClickHouse."""
    settings = _settings()
    try:
        result = run_query(settings, sql)
    except QueryFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if output is OutputFormat.JSON:
        typer.echo(orjson.dumps(result, default=str).decode())
        return
    table = Table(*result["columns"])
    for row in result["rows"]:
        table.add_row(*("NULL" if cell is None else str(cell) for cell in row))
    console.print(table)


@app.command()
def keys(
    kind: Annotated[KeyKind | None, typer.Option(help="Print only the first key of this kind, bare")] = None,
) -> None:
    """The API keys of the keys file (``make up`` creates one with a dev tenant)."""
    settings = _settings()
    store = KeyStore.load(settings.keys_file)
    if kind is not None:
        found = store.first(kind)
        if found is None:
            typer.echo(f"error: no {kind.value} key in {settings.keys_file}", err=True)
            raise typer.Exit(1)
        typer.echo(found.key)
        return
    table = Table("kind", "tenant", "key", "origins")
    for api_key in store.all():
        table.add_row(api_key.kind.value, api_key.tenant or "-", api_key.key, ", ".join(api_key.origins) or "any")
    console.print(table)


@app.command()
def rejoin() -> None:
    """Fill in trace dimensions of stored events whose trace arrived late (the worker does this by
    itself as traces arrive; this sweeps up whatever is left)."""
    settings = _settings()
    with engine_claim(settings, None):
        count = rejoin_all(settings.clickhouse().connect(), settings.clickhouse_database)
    typer.echo(f"rejoined {count} event(s)")


@kafka_app.command("start")
def kafka_start() -> None:
    """Start the local broker, detached (a no-op when it already runs)."""
    settings = _settings()
    broker = settings.local_broker()
    started = broker.start()
    typer.echo(f"kafka {'started' if started else 'already running'} at {broker.bootstrap}")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker and wait until it is gone."""
    settings = _settings()
    stopped = settings.local_broker().stop()
    typer.echo("kafka stopped" if stopped else "kafka was not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Is the local broker running and ready?"""
    settings = _settings()
    broker = settings.local_broker()
    pid = broker.pid()
    ready = broker.ready()
    typer.echo(f"kafka at {broker.bootstrap}: {'ready' if ready else 'not ready'}" + (f" (pid {pid})" if pid else ""))
    raise typer.Exit(0 if ready else 1)
