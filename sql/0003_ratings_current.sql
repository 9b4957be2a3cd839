-- The latest explicit rating (thumbs or 1-5) per user per message, by event time; a later
-- thumbs `none` is the latest and takes the rating back. Ties on ts go to the larger event_id,
-- so every replay picks the same row. Read from the events_log projection `ratings_latest`.
CREATE VIEW IF NOT EXISTS {database}.ratings_current AS
SELECT
    tenant_id,
    message_id,
    user_id,
    tupleElement(latest, 1) AS thumb,
    tupleElement(latest, 2) AS rating,
    tupleElement(latest, 3) AS ts,
    tupleElement(latest, 4) AS event_id
FROM
(
    SELECT
        tenant_id,
        ifNull(message_id, '') AS message_id,
        ifNull(user_id, '') AS user_id,
        argMaxIf(tuple(thumb, rating, ts, event_id), tuple(ts, event_id), type IN ('thumbs', 'rating')) AS latest,
        countIf(type IN ('thumbs', 'rating')) AS explicit_signals
    FROM {database}.events_log
    GROUP BY tenant_id, message_id, user_id
)
WHERE explicit_signals > 0;
