"""The collector's metric names, in one place (Prometheus; scraped at GET /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("feedback_http_requests_total", "HTTP requests by route and status", ["route", "status"])
ACCEPTED = Counter("feedback_items_accepted_total", "Items acknowledged by Kafka", ["kind"])
REJECTED = Counter("feedback_items_rejected_total", "Items rejected, by the field at fault", ["kind", "field"])
IN_FLIGHT = Gauge("feedback_http_in_flight", "Requests being handled")
PRODUCE_LATENCY = Histogram(
    "feedback_produce_seconds",
    "From first produce() to the last delivery report of a request",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
