-- Reviewers' labels on queued items (docs/contract.md §7 `annotations`): every label received is
-- kept in the log; the view shows each annotator's current label per item, the latest by `ts`
-- (ties: the later received, then the larger label), like a rater's current opinion. A resent
-- label is one more log row and changes nothing in the view.
CREATE TABLE IF NOT EXISTS {database}.annotations_log
(
    tenant_id    LowCardinality(String),
    queue        String,
    item_id      String,
    annotator    String COMMENT 'the reviewer (not an end user)',
    label        String,
    score        Nullable(Float64),
    reasons      Array(String),
    note         Nullable(String),
    ts           DateTime64(3, 'UTC') COMMENT 'when the annotator labelled it (their timestamp, else when received)',
    received_at  DateTime64(3, 'UTC'),
    received_via LowCardinality(String) COMMENT 'http (POST /v1/annotations) or import (feedback annotate import)'
)
ENGINE = MergeTree
ORDER BY (tenant_id, queue, item_id, annotator, ts);

CREATE VIEW IF NOT EXISTS {database}.annotations AS
SELECT
    tenant_id,
    queue,
    item_id,
    annotator,
    tupleElement(latest, 1) AS label,
    tupleElement(latest, 2) AS score,
    tupleElement(latest, 3) AS reasons,
    tupleElement(latest, 4) AS note,
    tupleElement(latest, 5) AS ts
FROM
(
    SELECT
        tenant_id, queue, item_id, annotator,
        argMax(tuple(label, score, reasons, note, ts), tuple(ts, received_at, label)) AS latest
    FROM {database}.annotations_log
    GROUP BY tenant_id, queue, item_id, annotator
);
