-- What LLM backends report per response. The latest report of a trace_id wins: a newer
-- report inserts, in one block, a cancel row for the previous one (sign -1, its version)
-- and itself. The hourly `responses` count is a projection, atomic with the rows.
CREATE TABLE IF NOT EXISTS {database}.traces_log
(
    tenant_id              LowCardinality(String),
    trace_id               String,
    conversation_id        String,
    received_at            DateTime64(3, 'UTC'),
    timestamp              DateTime64(3, 'UTC'),
    message_id             Nullable(String),
    response_id            Nullable(String),
    turn_id                Nullable(String),
    user_id                Nullable(String),
    model                  LowCardinality(Nullable(String)),
    model_version          LowCardinality(Nullable(String)),
    provider               LowCardinality(Nullable(String)),
    deployment             LowCardinality(Nullable(String)),
    prompt_template        LowCardinality(Nullable(String)),
    prompt_version         LowCardinality(Nullable(String)),
    feature                LowCardinality(Nullable(String)),
    environment            LowCardinality(Nullable(String)),
    input_tokens           Nullable(UInt32),
    output_tokens          Nullable(UInt32),
    latency_ms             Nullable(UInt32),
    time_to_first_token_ms Nullable(UInt32),
    streaming              Nullable(Bool),
    retrieval              Tuple(
                               doc_ids Array(String),
                               scores Array(Float64),
                               chunk_count Nullable(UInt32),
                               citations_shown Nullable(UInt32)),
    tools                  Array(Tuple(
                               name String,
                               success Nullable(Bool),
                               latency_ms Nullable(UInt32),
                               error Nullable(String))),
    fallback_path          Nullable(String),
    moderation_flags       Array(LowCardinality(String)),
    retry_count            Nullable(UInt32),
    truncated              Nullable(Bool),
    error                  Nullable(String),
    input_text             Nullable(String),
    output_text            Nullable(String),
    properties             Map(String, String),
    tool_failed            Bool MATERIALIZED arrayExists(t -> t.success = false OR t.error IS NOT NULL, tools),
    version                UInt64 COMMENT 'received_at in ms: the latest report wins',
    sign                   Int8 COMMENT '+1 the live report, -1 cancels the report of the same version',
    PROJECTION quality_hourly_responses
    (
        SELECT
            tenant_id,
            toStartOfHour(timestamp),
            ifNull(model, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            ifNull(feature, ''),
            sum(sign)
        GROUP BY
            tenant_id,
            toStartOfHour(timestamp),
            ifNull(model, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            ifNull(feature, '')
    )
)
ENGINE = CollapsingMergeTree(sign)
ORDER BY (tenant_id, trace_id, version)
SETTINGS non_replicated_deduplication_window = 10000, deduplicate_merge_projection_mode = 'rebuild';

CREATE VIEW IF NOT EXISTS {database}.traces AS
SELECT * EXCEPT (version, sign), tool_failed
FROM {database}.traces_log FINAL
WHERE sign = 1;
