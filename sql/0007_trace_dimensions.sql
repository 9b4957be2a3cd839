-- More of the trace on each event: deployment, environment, tokens, time to first token,
-- streaming, how many tools were called, documents retrieved and citations shown.
-- `traces_log` materializes the three counts (old parts compute them on read).
ALTER TABLE {database}.traces_log
    ADD COLUMN IF NOT EXISTS tool_count UInt32 MATERIALIZED length(tools),
    ADD COLUMN IF NOT EXISTS retrieval_count UInt32 MATERIALIZED length(retrieval.doc_ids),
    ADD COLUMN IF NOT EXISTS citations_shown Nullable(UInt32) MATERIALIZED retrieval.citations_shown;

CREATE OR REPLACE VIEW {database}.traces AS
SELECT * EXCEPT (version, sign), tool_failed, tool_count, retrieval_count
FROM {database}.traces_log FINAL
WHERE sign = 1;

ALTER TABLE {database}.events_log
    ADD COLUMN IF NOT EXISTS deployment LowCardinality(Nullable(String)) AFTER provider,
    ADD COLUMN IF NOT EXISTS environment LowCardinality(Nullable(String)) AFTER feature,
    ADD COLUMN IF NOT EXISTS input_tokens Nullable(UInt32) AFTER latency_ms,
    ADD COLUMN IF NOT EXISTS output_tokens Nullable(UInt32) AFTER input_tokens,
    ADD COLUMN IF NOT EXISTS time_to_first_token_ms Nullable(UInt32) AFTER output_tokens,
    ADD COLUMN IF NOT EXISTS streaming Nullable(Bool) AFTER time_to_first_token_ms,
    ADD COLUMN IF NOT EXISTS tool_count Nullable(UInt32) AFTER tool_failed,
    ADD COLUMN IF NOT EXISTS retrieval_count Nullable(UInt32) AFTER tool_count,
    ADD COLUMN IF NOT EXISTS citations_shown Nullable(UInt32) AFTER retrieval_count;

-- Events joined before this migration get the new dimensions of their trace: a cancel row and the
-- next version in one block (ARRAY JOIN), like a late join, so every count stays exact at any
-- point. Idempotent: a joined row always has a tool_count from now on, so a re-run (after a crash
-- part way) only picks what is left. Their other dimensions stay as they were joined.
INSERT INTO {database}.events_log
SELECT * EXCEPT (t_tenant_id, t_trace_id, t_deployment, t_environment, t_input_tokens, t_output_tokens,
                 t_time_to_first_token_ms, t_streaming, t_tool_count, t_retrieval_count, t_citations_shown)
         REPLACE (
             if(s = 1, t_deployment, deployment) AS deployment,
             if(s = 1, t_environment, environment) AS environment,
             if(s = 1, t_input_tokens, input_tokens) AS input_tokens,
             if(s = 1, t_output_tokens, output_tokens) AS output_tokens,
             if(s = 1, t_time_to_first_token_ms, time_to_first_token_ms) AS time_to_first_token_ms,
             if(s = 1, t_streaming, streaming) AS streaming,
             if(s = 1, t_tool_count, tool_count) AS tool_count,
             if(s = 1, t_retrieval_count, retrieval_count) AS retrieval_count,
             if(s = 1, t_citations_shown, citations_shown) AS citations_shown,
             if(s = 1, version + 1, version) AS version,
             toInt8(s) AS sign)
FROM
(
    SELECT *
    FROM (SELECT * FROM {database}.events_log FINAL WHERE sign = 1 AND trace_joined AND tool_count IS NULL) AS e
    INNER JOIN
    (
        SELECT tenant_id AS t_tenant_id, trace_id AS t_trace_id, deployment AS t_deployment,
               environment AS t_environment, input_tokens AS t_input_tokens, output_tokens AS t_output_tokens,
               time_to_first_token_ms AS t_time_to_first_token_ms, streaming AS t_streaming,
               tool_count AS t_tool_count, retrieval_count AS t_retrieval_count,
               citations_shown AS t_citations_shown
        FROM {database}.traces_log FINAL
        WHERE sign = 1
    ) AS t ON e.tenant_id = t.t_tenant_id AND e.trace_id = t.t_trace_id
)
ARRAY JOIN [-1, 1] AS s;

-- A view's `*` is expanded when it is created: again, with the new columns.
CREATE OR REPLACE VIEW {database}.events AS
SELECT * EXCEPT (version, sign), rater_kind, rater
FROM {database}.events_log FINAL
WHERE sign = 1;
