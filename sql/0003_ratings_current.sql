-- The latest explicit rating (thumbs or 1-5) per user per message, by event time.
-- Ties on ts are broken by event_id so every replica and replay picks the same row.
CREATE TABLE IF NOT EXISTS {database}.ratings_latest
(
    tenant_id  LowCardinality(String),
    message_id String,
    user_id    String,
    latest     AggregateFunction(argMax, Tuple(Nullable(String), Nullable(UInt8), DateTime64(3, 'UTC'), String),
                                 Tuple(DateTime64(3, 'UTC'), String))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, message_id, user_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.ratings_latest_mv TO {database}.ratings_latest AS
SELECT
    tenant_id,
    ifNull(message_id, '') AS message_id,
    ifNull(user_id, '') AS user_id,
    argMaxState(tuple(thumb, rating, ts, event_id), tuple(ts, event_id)) AS latest
FROM {database}.events_log
WHERE sign = 1 AND type IN ('thumbs', 'rating')
GROUP BY tenant_id, message_id, user_id;

CREATE VIEW IF NOT EXISTS {database}.ratings_current AS
SELECT
    tenant_id,
    message_id,
    user_id,
    tupleElement(state, 1) AS thumb,
    tupleElement(state, 2) AS rating,
    tupleElement(state, 3) AS ts,
    tupleElement(state, 4) AS event_id
FROM
(
    SELECT tenant_id, message_id, user_id, argMaxMerge(latest) AS state
    FROM {database}.ratings_latest
    GROUP BY tenant_id, message_id, user_id
);
