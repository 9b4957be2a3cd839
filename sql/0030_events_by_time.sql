-- events_log by event time (issue 20): its sort key began with event_id, a random UUID, so the worker's
-- lookup of a batch's events hit every granule, and cost grew with the whole history. Now rows sort by
-- tenant, then the HOUR of the corrected event time `ts`, then event_id: the lookups of a batch
-- (dedupe, its current opinions, a rejoin) name each event's hour, so they read only the few hours a
-- batch touches, however long the history (docs/contract.md §7: a resend is recognised within an hour
-- of the stored copy's ts; a replay from Kafka carries the very same ts). Monthly partitions let an
-- operator drop or move old months, and let FINAL (the `events` view) merge within a month only.
--
-- A sort key cannot be altered in place: the live rows (FINAL: a cancelled version and its cancel row
-- sum to zero everywhere, so they are left behind) are copied into a table of the new layout, which
-- then takes the name (EXCHANGE is atomic). Copying the cancel rows too would be wrong: a collapsing
-- table keeps a pair whose cancel row comes first, and a copy does not keep their order. Columns, indexes and projections come from the table as
-- it is (`AS`). Idempotent: a re-run copies only rows not copied yet. Run with the workers stopped (the
-- workers apply pending migrations when they start, before consuming).
CREATE TABLE IF NOT EXISTS {database}.events_log_by_time AS {database}.events_log
ENGINE = CollapsingMergeTree(sign)
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant_id, toStartOfHour(ts), event_id, version)
SETTINGS non_replicated_deduplication_window = 10000, deduplicate_merge_projection_mode = 'rebuild';

INSERT INTO {database}.events_log_by_time
SELECT * FROM {database}.events_log FINAL
WHERE sign = 1 AND (tenant_id, event_id, version, sign) NOT IN
      (SELECT tenant_id, event_id, version, sign FROM {database}.events_log_by_time);

EXCHANGE TABLES {database}.events_log AND {database}.events_log_by_time;

DROP TABLE IF EXISTS {database}.events_log_by_time;
