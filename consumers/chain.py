"""The worker's processing chain: decode → dead-letter → traces → events → announce → commit.

Each step has one job, hands the batch to its ``next_step`` and returns what it and the steps
after it did (``consumers.outcome``): what a step is, in
``consumers.step``; the steps, in ``consumers.steps``, ``consumers.traces_step`` and
``consumers.events_step``. ``build_chain`` wires them.
"""

from __future__ import annotations

from collections.abc import Callable

from consumers.bulk import BulkEventWriter
from consumers.bulk_traces import BulkTraceWriter
from consumers.dlq import DeadLetters, DeadLetterSink
from consumers.dlq_limit import DlqLimit
from consumers.events_step import Events
from consumers.step import Step
from consumers.steps import Announce, DeadLetter, Decode
from consumers.store import ClickHouseStore
from consumers.trace_dims_cache import TraceDimsCache
from consumers.traces_step import Traces
from runtime.telemetry import FeedbackTelemetry
from schemas.registry import SchemaRegistry
from schemas.serde import AvroDecoder


def build_chain(
    store: ClickHouseStore,
    dead_letters: DeadLetters | None,
    subject_of_topic: Callable[[str], str],
    last_step: Step,
    registry: SchemaRegistry | None = None,
    telemetry: FeedbackTelemetry | None = None,
    dlq_limit: DlqLimit | None = None,
) -> Step:
    """The whole chain, built anew on every partition assignment; ``last_step`` commits.
    With telemetry on, the fast path also reads back the explicit events it stored, to announce them."""
    cache = TraceDimsCache(store)
    sink = DeadLetterSink(dead_letters, dlq_limit)
    decoders = {subject: AvroDecoder(subject, registry=registry) for subject in ("event", "trace")}
    announcing = telemetry is not None and telemetry.enabled
    bulk = BulkEventWriter(store.client, store.database, announce=announcing)
    stored: Step = Announce(telemetry, last_step) if announcing and telemetry is not None else last_step
    events = Events(store, cache, decoders["event"], sink, bulk, stored)
    events.announce = announcing
    traces = Traces(store, cache, decoders["trace"], sink, BulkTraceWriter(store.client, store.database), events)
    return Decode(subject_of_topic, decoders, DeadLetter(sink, traces))
