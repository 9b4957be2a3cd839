"""The collector's metric names, in one place (Prometheus; scraped at GET /metrics).

No label value comes from client input: a label set that a client can grow at will is a memory
leak in the collector and in every scraper. Rejection reasons are labelled by the field at fault
only when it is a field of the contract; anything else counts as ``other``.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from schemas.annotations import AnnotationIn
from schemas.models import EventIn, TraceIn

REQUESTS = Counter("feedback_http_requests_total", "HTTP requests by route and status", ["route", "status"])
ACCEPTED = Counter("feedback_items_accepted_total", "Items acknowledged by Kafka", ["kind"])
REJECTED = Counter("feedback_items_rejected_total", "Items rejected, by the field at fault", ["kind", "field"])
# livesum: with several collector processes, the requests in flight in all the live ones.
IN_FLIGHT = Gauge("feedback_http_in_flight", "Requests being handled", multiprocess_mode="livesum")
PRODUCE_LATENCY = Histogram(
    "feedback_produce_seconds",
    "From first produce() to the last delivery report of a request",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Set by ``feedback collector --processes N`` (N > 1) for its processes: each writes its metrics
# there, and any process's /metrics answers the sum of all of them (a scrape reaches one process).
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST


def exposition() -> bytes:
    """The text GET /metrics answers: this process's metrics, or all the collector processes'."""
    directory = os.environ.get(MULTIPROCESS_DIR_ENV)
    if not directory:
        return generate_latest()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


# ``item``: a reason about the item as a whole (not an object, too large for one Kafka message).
ITEM_LABEL = "item"
OTHER_LABEL = "other"
KNOWN_FIELDS = (
    frozenset(EventIn.model_fields)
    | frozenset(TraceIn.model_fields)
    | frozenset(AnnotationIn.model_fields)
    | {ITEM_LABEL}
)


def rejected_field(error: str) -> str:
    """The metric label of one ``field: reason`` line: the top-level field if the contract has it."""
    head = error.split(":", 1)[0].split(".", 1)[0].split("[", 1)[0]
    if head in KNOWN_FIELDS:
        return head
    return ITEM_LABEL if head.isdigit() else OTHER_LABEL


# Items whose texts had personal data replaced at intake, by kind (docs/contract.md, "Redaction").
REDACTED = Counter(
    "feedback_items_redacted_total", "Items with personal data replaced, by item kind and PII kind", ["kind", "pii"]
)
