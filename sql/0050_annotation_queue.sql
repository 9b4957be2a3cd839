-- Annotation queues (docs/contract.md §7 `annotation_queue`): what `feedback sample` picked for
-- reviewers. The log keeps every row a sample run wrote; the view shows each item of a queue once.
-- A run leaves out what its queue already holds, so the log has one row per item, unless two
-- runs on one queue overlapped in time: then the view keeps the first row (earliest added_at,
-- then run_id) and the item still shows once. A plain MergeTree, not a Replacing one: a merge
-- must never swap which row the view shows.
CREATE TABLE IF NOT EXISTS {database}.annotation_queue_log
(
    tenant_id        LowCardinality(String),
    queue            String,
    item_id          String COMMENT 'the response''s id, the same as its `id` in the eval export',
    trace_id         String,
    message_id       Nullable(String),
    conversation_id  String,
    strategy         LowCardinality(String) COMMENT 'stratified, random, novel or cluster (mixed writes the first two)',
    stratum          String COMMENT 'stratified: DIM=value; cluster: cluster:ID; random and novel: empty',
    added_at         DateTime64(3, 'UTC'),
    run_id           String COMMENT 'the sample run that queued it'
)
ENGINE = MergeTree
ORDER BY (tenant_id, queue, item_id, added_at);

CREATE VIEW IF NOT EXISTS {database}.annotation_queue AS
SELECT
    tenant_id,
    queue,
    item_id,
    tupleElement(first, 1) AS trace_id,
    tupleElement(first, 2) AS message_id,
    tupleElement(first, 3) AS conversation_id,
    tupleElement(first, 4) AS strategy,
    tupleElement(first, 5) AS stratum,
    tupleElement(first, 6) AS added_at,
    tupleElement(first, 7) AS run_id
FROM
(
    SELECT
        tenant_id, queue, item_id,
        argMin(tuple(trace_id, message_id, conversation_id, strategy, stratum, added_at, run_id), tuple(added_at, run_id))
            AS first
    FROM {database}.annotation_queue_log
    GROUP BY tenant_id, queue, item_id
);
