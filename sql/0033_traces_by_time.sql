-- traces_log by time (issue 20): its sort key began with trace_id, a random id, so the worker's lookups of
-- a batch's traces cost a granule of every part per trace, and grew with the whole history. Now rows sort
-- by tenant, then the HOUR of the trace's `timestamp`, then trace_id, like events_log by `ts` (0030): the
-- worker finds a trace's stored report in the hours of its timestamp (a replay, a re-read batch or a newer
-- report of the response carries it unchanged) and an event's trace first in the hours before the event's
-- `ts`, so those lookups read a few hours of the log however long the history (docs/contract.md §7).
-- Monthly partitions let an operator drop or move old months.
--
-- What still looks a trace up by id alone (an event whose trace came hours before it, the dashboard's
-- response detail, an analyst's query) reads `by_trace`, a projection of the join's columns sorted by
-- tenant and trace_id as the table was, or skips granules with the bloom filter on trace_id.
--
-- The layout is changed as in 0030: the live rows are copied into a table of the new layout, which then
-- takes the name (EXCHANGE is atomic). Idempotent: a re-run copies only rows not copied yet. Run with the
-- workers stopped (workers apply pending migrations when they start, before consuming); at 50M events it
-- takes minutes.
ALTER TABLE {database}.traces_log ADD INDEX IF NOT EXISTS idx_trace trace_id TYPE bloom_filter GRANULARITY 4;

ALTER TABLE {database}.traces_log ADD PROJECTION IF NOT EXISTS by_trace
(
    SELECT
        tenant_id, trace_id, version, sign, timestamp, model, model_version, provider, deployment,
        prompt_template, prompt_version, feature, environment, latency_ms, input_tokens, output_tokens,
        time_to_first_token_ms, streaming, tool_failed, tool_count, retrieval_count, citations_shown
    ORDER BY tenant_id, trace_id, version
);

CREATE TABLE IF NOT EXISTS {database}.traces_log_by_time AS {database}.traces_log
ENGINE = CollapsingMergeTree(sign)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, toStartOfHour(timestamp), trace_id, version)
SETTINGS index_granularity = 256, non_replicated_deduplication_window = 10000,
    deduplicate_merge_projection_mode = 'rebuild';

INSERT INTO {database}.traces_log_by_time
SELECT * FROM {database}.traces_log FINAL
WHERE sign = 1 AND (tenant_id, trace_id, version) NOT IN
      (SELECT tenant_id, trace_id, version FROM {database}.traces_log_by_time);

EXCHANGE TABLES {database}.traces_log AND {database}.traces_log_by_time;

DROP TABLE IF EXISTS {database}.traces_log_by_time;
