-- Point lookups that cost less as history grows (issue 20). The worker looks traces_log up by
-- (tenant, trace_id) and opinions_log by (tenant, message_id): random ids, thousands per batch. Each
-- id costs one granule of the sort key; with granules of 8,192 rows a batch named more ids than the
-- tables had granules from about 10M events on, so every lookup read the whole key column and the
-- cost grew with the whole history. Granules of 256 rows make a lookup read about 256 rows per id
-- (measured at 50M events: the worker 1.6x faster, its CPU per event 1.8x lower; README "As history
-- grows"). The sort key's marks, 32 times more, stay a few MB in memory at 50M events.
--
-- A table's granularity cannot be altered in place: its live rows (FINAL: a cancelled version and its
-- cancel row sum to zero) are copied into a table of the new layout, which then takes the name
-- (EXCHANGE is atomic), as in 0030. Idempotent: a re-run copies only rows not copied yet. Run with
-- the workers stopped (workers apply pending migrations when they start, before consuming); at 50M
-- events it takes minutes.
CREATE TABLE IF NOT EXISTS {database}.traces_log_fine AS {database}.traces_log
ENGINE = CollapsingMergeTree(sign)
ORDER BY (tenant_id, trace_id, version)
SETTINGS index_granularity = 256, non_replicated_deduplication_window = 10000,
    deduplicate_merge_projection_mode = 'rebuild';

INSERT INTO {database}.traces_log_fine
SELECT * FROM {database}.traces_log FINAL
WHERE sign = 1 AND (tenant_id, trace_id, version) NOT IN
      (SELECT tenant_id, trace_id, version FROM {database}.traces_log_fine);

EXCHANGE TABLES {database}.traces_log AND {database}.traces_log_fine;

DROP TABLE IF EXISTS {database}.traces_log_fine;

CREATE TABLE IF NOT EXISTS {database}.opinions_log_fine AS {database}.opinions_log
ENGINE = CollapsingMergeTree(sign)
ORDER BY (tenant_id, message_id, rater_kind, rater, kind, version)
SETTINGS index_granularity = 256, non_replicated_deduplication_window = 10000,
    deduplicate_merge_projection_mode = 'rebuild';

INSERT INTO {database}.opinions_log_fine
SELECT * FROM {database}.opinions_log FINAL
WHERE sign = 1 AND (tenant_id, message_id, rater_kind, rater, kind, version) NOT IN
      (SELECT tenant_id, message_id, rater_kind, rater, kind, version FROM {database}.opinions_log_fine);

EXCHANGE TABLES {database}.opinions_log AND {database}.opinions_log_fine;

DROP TABLE IF EXISTS {database}.opinions_log_fine;
