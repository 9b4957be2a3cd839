"""The ``feedback`` command line (docs/contract.md §1)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import structlog
import typer
from prometheus_client import start_http_server
from rich.console import Console
from rich.table import Table

from consumers.dlq_limit import DlqLimitExceeded
from exports.filters import ExportFilters, FilterError
from exports.rows import Kind
from feedback.annotating import annotate_app, sample_command
from feedback.collector_processes import ProcessesError, Supervisor, collector_processes
from feedback.engine import EngineBusy, engine_claim, pipeline_address
from feedback.export_endpoint import ExportRequest
from feedback.exporting import ExportFailed, run_export
from feedback.forgetting import ForgetFailed, run_forget
from feedback.progress import export_progress, replay_progress
from feedback.querying import QueryFailed, admin_key, run_query
from feedback.services import (
    CollectorServer,
    make_collector,
    make_worker,
    start_quality_loop,
)
from operations.dlq_admin import REDRIVE_GROUP, mark_redriven, read_letters, redrive
from operations.rejoin import rejoin_all
from operations.rejoining import rejoin_remote
from operations.replay import Slice
from operations.replaying import plan, run_here, run_remote, summary
from producers.keys import KeyKind, KeysFileError, KeyStore, write_dev_keys
from producers.record_redaction import RecordRedaction
from producers.redaction_policy import RedactionPolicyError
from quality.alerts import AlertConfig, check, list_sql
from quality.derive import DeriveFailed, derive
from quality.durations import parse_duration
from quality.score import NotEnoughLabels, fit
from runtime.errors import BrokerError, KafkaUnavailable
from runtime.gc_tuning import tune_gc
from runtime.kafka import ensure_topics
from runtime.local_cluster import LocalCluster
from runtime.logs import configure_logging
from runtime.migrations import migrate_as_configured
from runtime.settings import Settings

app = typer.Typer(
    help="feedback-pipeline: user feedback on LLM responses, from HTTP to ClickHouse.",
    no_args_is_help=True,
    # A crash's traceback must not print local variables: they hold keys, comments, user ids.
    pretty_exceptions_show_locals=False,
)
dlq_app = typer.Typer(
    help="The dead-letter queue: what failed, why, from where; redrive after a fix.", no_args_is_help=True
)
kafka_app = typer.Typer(
    help="The local Kafka broker, or a local cluster of several (for machines without one).", no_args_is_help=True
)
score_app = typer.Typer(help="The quality score: P(thumb up) from implicit signals.", no_args_is_help=True)
alerts_app = typer.Typer(help="Regression alerts: window against baseline, per version.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(dlq_app, name="dlq")
app.add_typer(score_app, name="score")
app.add_typer(alerts_app, name="alerts")
app.add_typer(annotate_app, name="annotate")
app.command("sample")(sample_command)
log = structlog.get_logger("feedback")


def _console() -> Console:
    """A terminal gets its own width; a pipe gets wide tables rather than truncated cells."""
    return Console() if sys.stdout.isatty() else Console(width=240)


def main() -> None:
    """The ``feedback`` entry point: expected failures are one line on stderr, not a traceback."""
    try:
        app()
    except (
        EngineBusy,
        ProcessesError,
        KafkaUnavailable,
        BrokerError,
        FileNotFoundError,
        KeysFileError,
        RedactionPolicyError,
        DeriveFailed,
        NotEnoughLabels,
    ) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return settings


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    PARQUET = "parquet"


@app.command()
def up() -> None:
    """Run the whole pipeline here: local Kafka (unless FEEDBACK_KAFKA_BOOTSTRAP is set), migrations,
    collector and worker. Ctrl-C or SIGTERM stops it cleanly."""
    settings = _settings()
    redaction = RecordRedaction.of(settings)  # a bad policy file stops us before the broker starts
    if not settings.keys_file.exists():
        keys = write_dev_keys(settings.keys_file)
        # Only the browser-safe key: logs are read by more people than the keys file.
        log.info(
            "keys.created",
            file=str(settings.keys_file),
            public=keys["public"],
            others="feedback keys --kind secret (or --kind admin)",
        )
    broker = settings.local_broker() if settings.uses_local_kafka else None
    started_broker = broker.start() if broker is not None else False
    stop, crashed = threading.Event(), threading.Event()
    try:
        ensure_topics(settings)
        with engine_claim(settings, settings.http_addr):
            client = settings.clickhouse().connect()
            migrate_as_configured(client, settings)
            server = CollectorServer(settings, make_collector(settings, redaction=redaction))
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
            quality_thread = start_quality_loop(settings, stop)
            tune_gc()
            public = KeyStore.load(settings.keys_file).first(KeyKind.PUBLIC)
            log.info(
                "pipeline.up",
                http=f"http://{settings.http_addr}",
                demo=f"http://{settings.http_addr}/demo/?key={public.key}" if public else None,
                kafka=settings.kafka_bootstrap,
                keys=str(settings.keys_file),
            )
            try:
                server.run()
            finally:
                stop.set()
                worker_thread.join(timeout=60)
                if quality_thread is not None:
                    quality_thread.join(timeout=60)
    finally:
        if started_broker and broker is not None:
            broker.stop()
    if crashed.is_set():
        log.error("pipeline.down", reason="the worker crashed; see worker.crashed above")
        raise typer.Exit(1)
    log.info("pipeline.down")


@app.command()
def collector(
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes serving the port (SO_REUSEPORT); default FEEDBACK_COLLECTOR_PROCESSES, else one per "
            "core (1 with an embedded ClickHouse). Rate limits and connection caps apply per process.",
        ),
    ] = None,
) -> None:
    """The HTTP edge collector alone."""
    settings = _settings()
    redaction = RecordRedaction.of(settings)  # a bad policy file stops us before anything starts
    count = collector_processes(settings, processes)
    ensure_topics(settings)
    if count > 1:
        raise typer.Exit(Supervisor(settings, count).run())
    server = CollectorServer(settings, make_collector(settings, redaction=redaction))
    tune_gc()
    server.run()


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
        names = settings.topics_named(topics)
    if settings.metrics_addr:
        host, _, port = settings.metrics_addr.rpartition(":")
        start_http_server(int(port), host or "0.0.0.0")  # noqa: S104 (an address the user chose)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())  # finish the batch, commit, close
    with engine_claim(settings, None):
        client = settings.clickhouse().connect()
        migrate_as_configured(client, settings)
        worker = make_worker(settings, client, group=group, topics=names, stop=stop)
        quality_thread = start_quality_loop(settings, stop)
        tune_gc()
        try:
            worker.run()
        except DlqLimitExceeded as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        finally:
            if quality_thread is not None:
                quality_thread.join(timeout=60)


@app.command()
def migrate(
    database: Annotated[
        str | None, typer.Option(help="Database to migrate (default FEEDBACK_CLICKHOUSE_DATABASE)")
    ] = None,
) -> None:
    """Apply the sql/ migrations (idempotent, versioned)."""
    settings = _settings()
    with engine_claim(settings, None):
        applied = migrate_as_configured(settings.clickhouse().connect(), settings, database)
    _console().print(
        f"applied {len(applied)} migration(s)"
        + (": " + ", ".join(f"{m.version:04d}_{m.name}" for m in applied) if applied else "")
    )


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="A read-only SQL statement")],
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = OutputFormat.TABLE,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="FEEDBACK_API_KEY",
            help="Run as this admin or analyst key (an analyst sees only its tenant); default: the admin key",
        ),
    ] = None,
) -> None:
    """Read-only query against the configured ClickHouse."""
    settings = _settings()
    try:
        result = run_query(settings, sql, key)
    except QueryFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if output is OutputFormat.JSON:
        typer.echo(orjson.dumps(result, default=str).decode())
        return
    table = Table(*result["columns"])
    for row in result["rows"]:
        table.add_row(*("NULL" if cell is None else str(cell) for cell in row))
    _console().print(table)


@app.command()
def replay(
    topic: Annotated[
        str,
        typer.Option(
            help="Topic kind (traces, explicit, implicit) or name; comma-separated for several, read in that order"
        ),
    ],
    from_: Annotated[
        str, typer.Option("--from", help="Offset, ISO time (2026-11-25T12:00:00Z) or relative (2h, 30m, 7d)")
    ],
    to: Annotated[str | None, typer.Option(help="Stop before this offset or time (default: the end now)")] = None,
    partition: Annotated[int | None, typer.Option(help="Only this partition")] = None,
    database: Annotated[str | None, typer.Option(help="Rebuild into this database (migrated first)")] = None,
) -> None:
    """Re-read a slice of a topic into ClickHouse, in a consumer group of its own: the live workers
    are undisturbed, and replaying the same slice again changes no count. While `feedback up` owns
    the embedded engine, the replay runs inside it (through its collector)."""
    settings = _settings()
    target = database or settings.clickhouse_database
    try:
        address = pipeline_address(settings, "replay")
        if address is not None:
            key = admin_key(settings)
            request = {"topic": topic, "from": from_, "to": to, "partition": partition, "database": target}
            with contextlib.ExitStack() as bars:

                def on_slice(name: str, total: int) -> Callable[[int], None]:
                    return bars.enter_context(replay_progress(name, total))

                run_remote(address, key, request, on_slice, lambda name, stats: typer.echo(summary(name, stats)))
            return
        slices = plan(settings, topic, from_, to, partition)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    with engine_claim(settings, None), contextlib.ExitStack() as bars:

        def on_local_slice(part: Slice) -> Callable[[int], None]:
            return bars.enter_context(replay_progress(part.topic, part.total))

        for part, stats in run_here(settings, slices, target, on_local_slice):
            typer.echo(summary(part.topic, stats))


@app.command("export")
def export(
    kind: Annotated[
        Kind, typer.Argument(help="eval (regression set), sft (chat fine-tuning) or dpo (preference pairs)")
    ],
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (an analyst key: its own, forced)")] = None,
    since: Annotated[
        str | None, typer.Option(help="Responses from this time: ISO (2026-11-25T12:00:00Z) or relative (7d, 2h)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Responses before this time (ISO or relative)")] = None,
    model_version: Annotated[str | None, typer.Option(help="Only responses of this model_version")] = None,
    prompt_version: Annotated[str | None, typer.Option(help="Only responses of this prompt_version")] = None,
    feature: Annotated[str | None, typer.Option(help="Only responses of this feature")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write here (and PATH.manifest.json beside it); default stdout")
    ] = None,
    output_format: Annotated[ExportFormat, typer.Option("--format", help="jsonl or parquet")] = ExportFormat.JSONL,
    metadata: Annotated[
        bool, typer.Option(help="sft/dpo: lineage under `metadata` (--no-metadata for APIs that refuse extra keys)")
    ] = True,
    key: Annotated[
        str | None,
        typer.Option(help="Admin or analyst key (default: the keys file's admin key for a running pipeline)"),
    ] = None,
) -> None:
    """Turn feedback into a dataset: eval rows for responses with a negative signal, sft chat rows
    (edited or rated-up answers), dpo preference pairs (edits, regenerate attempts). Same data and
    filters, same bytes. While `feedback up` owns the embedded engine, the export runs inside it."""
    settings = _settings()
    if output_format is ExportFormat.PARQUET and out is None and sys.stdout.isatty():
        typer.echo("error: --format parquet: give --out PATH (Parquet is binary, not for a terminal)", err=True)
        raise typer.Exit(2)
    try:
        filters = ExportFilters.parse(
            tenant=tenant,
            since=since,
            until=until,
            model_version=model_version,
            prompt_version=prompt_version,
            feature=feature,
        )
    except FilterError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    bar = (lambda total: export_progress(f"export {kind.value}", total)) if sys.stderr.isatty() else None
    try:
        summary = run_export(settings, ExportRequest(kind, filters, metadata), out, output_format.value, key, bar)
    except (ExportFailed, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary.line(kind.value), err=True)


@dlq_app.command("list")
def dlq_list() -> None:
    """Every message in the DLQ: why it failed and where it came from."""
    settings = _settings()
    letters = read_letters(settings)
    table = Table("ref", "failed at", "reason", "source", "redriven", "detail")
    for letter in letters:
        table.add_row(
            letter.ref,
            letter.failed_at.isoformat(timespec="seconds") if letter.failed_at else "-",
            letter.reason,
            f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}",
            "yes" if letter.redriven else "no",
            letter.detail[:80],
        )
    _console().print(table)
    typer.echo(f"{len(letters)} dead letter(s) in {settings.topic('dlq')}")


@dlq_app.command("show")
def dlq_show(ref: Annotated[str, typer.Argument(help="PARTITION:OFFSET in the DLQ, as `dlq list` shows")]) -> None:
    """One dead letter in full: headers, key and value."""
    settings = _settings()
    found = next((letter for letter in read_letters(settings) if letter.ref == ref), None)
    if found is None:
        typer.echo(f"error: no dead letter {ref} in {settings.topic('dlq')}", err=True)
        raise typer.Exit(1)
    for name in (
        "ref",
        "reason",
        "detail",
        "source_topic",
        "source_partition",
        "source_offset",
        "failed_at",
        "redriven",
    ):
        typer.echo(f"{name}: {getattr(found, name)}")
    typer.echo(f"key: {found.key!r}")
    typer.echo(f"value ({len(found.value or b'')} bytes): {(found.value or b'')[:512]!r}")


@dlq_app.command("redrive")
def dlq_redrive(
    reason: Annotated[str | None, typer.Option(help="Only letters with this reason")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Also letters redriven before")] = False,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be sent")] = False,
) -> None:
    """Send dead letters back to their source topics after a fix. Each is then stored once (the
    worker drops what is already stored); a letter redriven before is skipped unless --all."""
    settings = _settings()
    letters = read_letters(settings, REDRIVE_GROUP, from_committed=not everything)
    chosen = [
        letter
        for letter in letters
        if (reason is None or letter.reason == reason) and (everything or not letter.redriven)
    ]
    if dry_run:
        typer.echo(f"would redrive {len(chosen)} dead letter(s)")
        return
    sent = redrive(settings, chosen)
    mark_redriven(settings, sent, letters)
    typer.echo(f"redrove {len(sent)} dead letter(s)")


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
    _console().print(table)


@app.command()
def rejoin() -> None:
    """Fill in trace dimensions of stored events whose trace arrived late (the worker does this by
    itself as traces arrive; this sweeps up whatever is left). While `feedback up` owns the
    embedded engine, the rejoin runs inside it (through its collector)."""
    settings = _settings()
    address = pipeline_address(settings, "rejoin")
    if address is not None:
        # the running pipeline owns the engine: rejoin in its process, under its write locks
        try:
            count = rejoin_remote(address, admin_key(settings))
        except RuntimeError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    else:
        with engine_claim(settings, None):
            count = rejoin_all(settings.clickhouse().connect(), settings.clickhouse_database)
    typer.echo(f"rejoined {count} event(s)")


@app.command()
def forget(
    tenant: Annotated[str, typer.Option(help="The tenant of the user")],
    user: Annotated[str, typer.Option(help="The user_id to erase")],
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = OutputFormat.TABLE,
    key: Annotated[
        str | None,
        typer.Option(help="Through a running pipeline: the admin key, or the tenant's secret key (default: admin)"),
    ] = None,
) -> None:
    """Erase a user for good: their events, ratings and opinions, and everything of their
    conversations (traces, other signals) from every table; the counts are fixed, the request is
    recorded in `erasures`, and no replay, redrive or late message stores them again."""
    settings = _settings()
    try:
        result = run_forget(settings, tenant, user, key)
    except ForgetFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if output is OutputFormat.JSON:
        typer.echo(orjson.dumps(result).decode())
        return
    table = Table("table", "removed")
    for name, count in result["removed"].items():
        table.add_row(name, str(count))
    _console().print(table)
    typer.echo(
        f"erased user {result['user']!r} of tenant {result['tenant']!r}: {result['conversations']} conversation(s), "
        f"recorded in erasures at {result['requested_at']}"
    )


@kafka_app.command("start")
def kafka_start(
    brokers: Annotated[
        int,
        typer.Option(
            min=1,
            max=9,
            help="Brokers: 1 = one node; 3 = a KRaft cluster, brokers on FEEDBACK_KAFKA_LOCAL_PORT and the "
            "next ports, controllers on the ports after those",
        ),
    ] = 1,
) -> None:
    """Start the local broker or cluster, detached (a no-op when it already runs)."""
    settings = _settings()
    single, cluster = settings.local_broker(), settings.local_cluster(brokers)
    running = _running_cluster(settings)
    if brokers == 1:
        if running is not None:
            raise BrokerError(
                f"a {running.brokers}-broker cluster runs from {running.data_dir}: `feedback kafka stop` first"
            )
        started = single.start()
        typer.echo(f"kafka {'started' if started else 'already running'} at {single.bootstrap}")
        return
    if single.pid() is not None:
        raise BrokerError(f"a single broker runs from {single.data_dir}: `feedback kafka stop` first")
    if running is not None and running != cluster:
        raise BrokerError(
            f"a {running.brokers}-broker cluster runs from {running.data_dir}: `feedback kafka stop` first"
        )
    started = cluster.start()
    typer.echo(f"kafka cluster of {brokers} brokers {'started' if started else 'already running'}")
    typer.echo(f"bootstrap: {cluster.bootstrap}")


def _running_cluster(settings: Settings) -> LocalCluster | None:
    """The cluster last started from FEEDBACK_KAFKA_DATA_DIR, when one of its nodes still runs."""
    cluster = LocalCluster.described(settings.local_cluster())
    if cluster is None or all(node.pid() is None for node in cluster.nodes):
        return None
    return cluster


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker or every node of the local cluster, and wait until they are gone."""
    settings = _settings()
    stopped = settings.local_broker().stop()
    cluster = LocalCluster.described(settings.local_cluster())
    nodes = cluster.stop() if cluster is not None else 0
    if nodes:
        typer.echo(f"kafka cluster stopped ({nodes} broker(s) were running)")
    if stopped:
        typer.echo("kafka stopped")
    if not stopped and not nodes:
        typer.echo("kafka was not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Is the local broker (or each broker of the local cluster) running and ready?"""
    settings = _settings()
    broker = settings.local_broker()
    cluster = _running_cluster(settings)
    if cluster is None:
        pid = broker.pid()
        ready = broker.ready()
        state = "ready" if ready else "not ready"
        typer.echo(f"kafka at {broker.bootstrap}: {state}" + (f" (pid {pid})" if pid else ""))
        raise typer.Exit(0 if ready else 1)
    all_ready = True
    for node in cluster.nodes:
        pid = node.pid()
        ready = pid is not None and node.ready()
        all_ready = all_ready and ready
        state = "ready" if ready else ("not ready" if pid else "not running")
        typer.echo(f"broker {node.node_id} at {node.bootstrap}: {state}" + (f" (pid {pid})" if pid else ""))
    typer.echo(f"controllers: {', '.join(f'127.0.0.1:{port}' for port in cluster.controller_ports)}")
    typer.echo(f"bootstrap: {cluster.bootstrap}")
    raise typer.Exit(0 if all_ready else 1)


def _at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO time like 2026-11-25T12:00:00Z", param_hint="--at") from None
    if parsed.tzinfo is None:
        raise typer.BadParameter("needs a UTC offset (Z or +hh:mm)", param_hint="--at")
    return parsed


TenantOption = Annotated[str | None, typer.Option(help="Only this tenant (default: every tenant)")]
AtOption = Annotated[str | None, typer.Option(help="Run as of this ISO time instead of now")]


@app.command("derive")
def derive_command(tenant: TenantOption = None, at: AtOption = None) -> None:
    """Run the derived-signal rules now (rephrase, abandon; the worker also runs them every
    FEEDBACK_QUALITY_INTERVAL_S): new signals go to Kafka like client signals, each stored once."""
    settings = _settings()
    with engine_claim(settings, None):
        client = settings.clickhouse().connect()
        migrate_as_configured(client, settings)
        counts = derive(settings, client, at=_at(at), tenant=tenant)
    typer.echo(f"derived {counts['rephrase']} rephrase and {counts['abandon']} abandon signal(s)")


@score_app.command("fit")
def score_fit(
    tenant: Annotated[str | None, typer.Option(help="Fit on this tenant only (default: every tenant)")] = None,
) -> None:
    """Fit P(thumb up) from implicit signals on the responses that have a thumb; report held-out
    AUC and calibration; store the coefficients (response_scores then scores every response)."""
    settings = _settings()
    with engine_claim(settings, None):
        client = settings.clickhouse().connect()
        migrate_as_configured(client, settings)
        model = fit(
            client,
            settings.clickhouse_database,
            tenant=tenant,
            min_labelled=settings.score_min_labelled,
        )
    console = _console()
    console.print(
        f"model {model.model_id} ({model.tenant_id or 'all tenants'}): trained on {model.n_train}, "
        f"held out {model.n_test} labelled responses from {model.data_from:%Y-%m-%d %H:%M} "
        f"to {model.data_to:%Y-%m-%d %H:%M}"
    )
    console.print(f"held-out AUC {model.auc:.3f}, Brier score {model.brier:.4f}")
    coefficients = Table("signal", "coefficient (log-odds)")
    coefficients.add_row("(intercept)", f"{model.intercept:+.3f}")
    for name, value in model.coefficients.items():
        coefficients.add_row(name, f"{value:+.3f}")
    console.print(coefficients)
    calibration = Table("predicted P(up)", "responses", "mean predicted", "observed up")
    for row in model.calibration:
        calibration.add_row(f"{row.lo:.1f}-{row.hi:.1f}", str(row.n), f"{row.predicted:.3f}", f"{row.observed:.3f}")
    console.print(calibration)


def _alerts_table(rows: list[dict[str, object]]) -> Table:
    table = Table("raised at", "tenant", "severity", "metric", "comparison", "dimensions", "baseline", "current", "n",
                  "p (adj.)")  # fmt: skip
    for row in rows:
        dims = row["dimensions"]
        table.add_row(
            str(row["raised_at"])[:19],
            str(row["tenant_id"]),
            str(row["severity"]),
            str(row["metric"]),
            str(row["comparison"]),
            " ".join(f"{k}={v}" for k, v in dims.items()) if isinstance(dims, dict) else str(dims),
            f"{float(row['baseline']):.4f}",  # type: ignore[arg-type]
            f"{float(row['current']):.4f}",  # type: ignore[arg-type]
            str(row["n"]),
            f"{float(row['p_adjusted']):.2g}",  # type: ignore[arg-type]
        )
    return table


@alerts_app.command("check")
def alerts_check(
    window: Annotated[str, typer.Option(help="The recent period of event time (30m, 1h, ...)")] = "1h",
    baseline: Annotated[str, typer.Option(help="The period before the window it is compared with")] = "24h",
    tenant: TenantOption = None,
    at: AtOption = None,
) -> None:
    """Compare the window with the baseline per tenant x model x version x prompt x feature (and
    new versions with the ones they replaced); store, post and print the new alerts."""
    settings = _settings()
    try:
        window_s, baseline_s = parse_duration(window, "--window"), parse_duration(baseline, "--baseline")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    config = AlertConfig.from_settings(settings, window_s, baseline_s)
    with engine_claim(settings, None):
        client = settings.clickhouse().connect()
        migrate_as_configured(client, settings)
        result = check(client, settings.clickhouse_database, config, at=_at(at), tenant=tenant)
    if result.raised:
        _console().print(_alerts_table(result.raised))
    typer.echo(
        f"window {result.window_start:%Y-%m-%d %H:%M} - {result.window_end:%H:%M} UTC: "
        f"{len(result.findings)} regression(s), {len(result.raised)} new alert(s)"
    )


@alerts_app.command("list")
def alerts_list(
    tenant: TenantOption = None,
    limit: Annotated[int, typer.Option(help="Newest first, at most this many")] = 50,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = OutputFormat.TABLE,
) -> None:
    """The alerts raised so far, newest first (through the running pipeline when it owns the engine)."""
    settings = _settings()
    try:
        result = run_query(settings, list_sql(settings.clickhouse_database, tenant, limit), None)
    except (QueryFailed, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    rows = [dict(zip(result["columns"], row, strict=True)) for row in result["rows"]]
    if output is OutputFormat.JSON:
        typer.echo(orjson.dumps(rows, default=str).decode())
        return
    _console().print(_alerts_table(rows))
    typer.echo(f"{len(rows)} alert(s)")
