-- Regression alerts (issue 15): one row per regression and window. `alert_id` is deterministic
-- (tenant, metric, comparison, dimensions, window), so a check that runs twice stores one row.
CREATE TABLE IF NOT EXISTS {database}.alerts
(
    tenant_id     LowCardinality(String),
    alert_id      String,
    raised_at     DateTime64(3, 'UTC'),
    metric        LowCardinality(String) COMMENT 'down_rate regenerate_rate rephrase_rate copy_rate mean_score',
    comparison    LowCardinality(String) COMMENT 'self: the group against its own baseline; versions: a new version against the ones it replaced',
    dimensions    Map(String, String) COMMENT 'model, model_version, prompt_version, feature',
    window_start  DateTime64(3, 'UTC'),
    window_end    DateTime64(3, 'UTC'),
    baseline      Float64 COMMENT 'the metric over the baseline period',
    current       Float64 COMMENT 'the metric over the window',
    n             UInt32 COMMENT 'responses (down_rate: thumbed responses) in the window',
    baseline_n    UInt32,
    p_value       Float64 COMMENT 'one-sided, before correction',
    p_adjusted    Float64 COMMENT 'Benjamini-Hochberg across the check''s comparisons',
    severity      LowCardinality(String) COMMENT 'warning or critical'
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant_id, alert_id);
