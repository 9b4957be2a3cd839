-- Every accepted signal. One live row per (tenant_id, event_id). A late trace join inserts,
-- in one block, a cancel row (sign -1, same version) and the joined row (next version).
--
-- The hourly counts and the latest ratings are aggregate PROJECTIONS of this table, not
-- materialized views: a projection is written inside the same part as the rows, so a worker
-- killed mid-insert can never leave rows without their counts (or counts without rows).
-- Signed sums stay exact before and after merges (collapsed pairs sum to zero).
CREATE TABLE IF NOT EXISTS {database}.events_log
(
    tenant_id        LowCardinality(String),
    event_id         String,
    type             LowCardinality(String),
    timestamp        DateTime64(3, 'UTC') COMMENT 'client clock, as sent',
    sent_at          Nullable(DateTime64(3, 'UTC')),
    received_at      DateTime64(3, 'UTC'),
    ts               DateTime64(3, 'UTC') COMMENT 'event time corrected for client clock skew',
    conversation_id  String,
    trace_id         Nullable(String),
    message_id       Nullable(String),
    turn_id          Nullable(String),
    response_id      Nullable(String),
    session_id       Nullable(String),
    user_id          Nullable(String),
    value            Nullable(String) COMMENT 'thumbs up/down/none, or rating 1-5, as text',
    thumb            LowCardinality(Nullable(String)),
    rating           Nullable(UInt8),
    reasons          Array(LowCardinality(String)),
    comment          Nullable(String),
    edited_text      Nullable(String),
    edit_distance    Nullable(UInt32),
    copied_chars     Nullable(UInt32),
    attempt          Nullable(UInt32),
    dwell_ms         Nullable(UInt32),
    properties       Map(String, String),
    model            LowCardinality(Nullable(String)),
    model_version    LowCardinality(Nullable(String)),
    provider         LowCardinality(Nullable(String)),
    prompt_template  LowCardinality(Nullable(String)),
    prompt_version   LowCardinality(Nullable(String)),
    feature          LowCardinality(Nullable(String)),
    latency_ms       Nullable(UInt32),
    tool_failed      Nullable(Bool),
    trace_joined     Bool,
    version          UInt32 COMMENT '1 on first write, one more on each rejoin',
    sign             Int8 COMMENT '+1 a live row, -1 cancels the row of the same version',
    INDEX idx_trace trace_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_ts ts TYPE minmax GRANULARITY 1,
    PROJECTION quality_hourly_events
    (
        SELECT
            tenant_id,
            toStartOfHour(ts),
            ifNull(model, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            ifNull(feature, ''),
            sum(sign * (ifNull(thumb, '') = 'up')),
            sum(sign * (ifNull(thumb, '') = 'down')),
            sum(sign * (ifNull(rating, 0) > 0)),
            sum(sign * ifNull(rating, 0)),
            sum(sign * notEmpty(ifNull(comment, ''))),
            sum(sign * (type = 'edit')),
            sum(sign * (type = 'copy')),
            sum(sign * (type = 'regenerate')),
            sum(sign * (type = 'rephrase')),
            sum(sign * (type = 'abandon'))
        GROUP BY
            tenant_id,
            toStartOfHour(ts),
            ifNull(model, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            ifNull(feature, '')
    ),
    PROJECTION ratings_latest
    (
        SELECT
            tenant_id,
            ifNull(message_id, ''),
            ifNull(user_id, ''),
            argMaxIf(tuple(thumb, rating, ts, event_id), tuple(ts, event_id), type IN ('thumbs', 'rating')),
            countIf(type IN ('thumbs', 'rating'))
        GROUP BY tenant_id, ifNull(message_id, ''), ifNull(user_id, '')
    )
)
ENGINE = CollapsingMergeTree(sign)
ORDER BY (tenant_id, event_id, version)
SETTINGS non_replicated_deduplication_window = 10000, deduplicate_merge_projection_mode = 'rebuild';

-- The contract's table: exactly one row per event, its newest version, without FINAL in queries.
CREATE VIEW IF NOT EXISTS {database}.events AS
SELECT * EXCEPT (version, sign)
FROM {database}.events_log FINAL
WHERE sign = 1;
