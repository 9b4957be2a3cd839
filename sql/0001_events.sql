-- Every accepted signal. One logical row per (tenant_id, event_id); a late trace join
-- writes a new version of the row (and a cancel row, sign -1, for the aggregates).
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
    version          UInt32 COMMENT '1 on first write, higher on each rejoin',
    sign             Int8 COMMENT '+1 a row to count, -1 cancels an earlier version in the aggregates',
    INDEX idx_trace trace_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_ts ts TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- The contract's table: exactly one row per event, the newest version, without FINAL in queries.
CREATE VIEW IF NOT EXISTS {database}.events AS
SELECT * EXCEPT (version, sign)
FROM {database}.events_log FINAL
WHERE sign = 1;
