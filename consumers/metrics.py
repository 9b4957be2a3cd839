"""The worker's metric names, in one place."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CONSUMED = Counter("feedback_worker_consumed_total", "Messages consumed", ["topic"])
INSERTED = Counter(
    "feedback_worker_inserted_rows_total", "Events, or trace reports, newly stored in ClickHouse", ["table"]
)
DUPLICATES = Counter(
    "feedback_worker_duplicates_total", "Events or trace reports dropped as already stored or repeated in a batch"
)
REJOINED = Counter("feedback_worker_rejoined_total", "Stored events joined to a trace that arrived after them")
INVALID = Counter("feedback_worker_dlq_total", "Messages sent to the DLQ", ["reason"])
LAG = Gauge("feedback_worker_lag_messages", "Messages behind the partition end", ["topic", "partition"])
RETRIES = Counter("feedback_worker_batch_retries_total", "Batches held back and retried (backpressure)")
ERASED = Counter(
    "feedback_worker_erased_total", "Events or traces dropped because their user was erased (feedback forget)", ["kind"]
)
