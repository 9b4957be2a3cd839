-- Hourly quality counts per tenant x model x model_version x prompt_version x feature,
-- kept incrementally from events_log and traces_log. Each row there carries a sign, so a
-- rejoin (or a re-reported trace) moves its counts from the old dimensions to the new.
CREATE TABLE IF NOT EXISTS {database}.quality_hourly_parts
(
    tenant_id      LowCardinality(String),
    hour           DateTime('UTC'),
    model          LowCardinality(String),
    model_version  LowCardinality(String),
    prompt_version LowCardinality(String),
    feature        LowCardinality(String),
    thumbs_up      Int64,
    thumbs_down    Int64,
    ratings        Int64,
    rating_sum     Int64,
    comments       Int64,
    edits          Int64,
    copies         Int64,
    regenerates    Int64,
    rephrases      Int64,
    abandons       Int64,
    responses      Int64
)
ENGINE = SummingMergeTree
ORDER BY (tenant_id, hour, model, model_version, prompt_version, feature);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.quality_hourly_events_mv TO {database}.quality_hourly_parts AS
SELECT
    tenant_id,
    toStartOfHour(ts) AS hour,
    ifNull(model, '') AS model,
    ifNull(model_version, '') AS model_version,
    ifNull(prompt_version, '') AS prompt_version,
    ifNull(feature, '') AS feature,
    sum(sign * (thumb = 'up')) AS thumbs_up,
    sum(sign * (thumb = 'down')) AS thumbs_down,
    sum(sign * (rating IS NOT NULL)) AS ratings,
    sum(sign * ifNull(rating, 0)) AS rating_sum,
    sum(sign * (comment IS NOT NULL AND comment != '')) AS comments,
    sum(sign * (type = 'edit')) AS edits,
    sum(sign * (type = 'copy')) AS copies,
    sum(sign * (type = 'regenerate')) AS regenerates,
    sum(sign * (type = 'rephrase')) AS rephrases,
    sum(sign * (type = 'abandon')) AS abandons,
    toInt64(0) AS responses
FROM {database}.events_log
GROUP BY tenant_id, hour, model, model_version, prompt_version, feature;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.quality_hourly_traces_mv TO {database}.quality_hourly_parts AS
SELECT
    tenant_id,
    toStartOfHour(timestamp) AS hour,
    ifNull(model, '') AS model,
    ifNull(model_version, '') AS model_version,
    ifNull(prompt_version, '') AS prompt_version,
    ifNull(feature, '') AS feature,
    toInt64(0) AS thumbs_up, toInt64(0) AS thumbs_down, toInt64(0) AS ratings, toInt64(0) AS rating_sum,
    toInt64(0) AS comments, toInt64(0) AS edits, toInt64(0) AS copies, toInt64(0) AS regenerates,
    toInt64(0) AS rephrases, toInt64(0) AS abandons,
    sum(sign) AS responses
FROM {database}.traces_log
GROUP BY tenant_id, hour, model, model_version, prompt_version, feature;

-- The contract's table: exact sums with a plain SELECT (parts are summed here, not left to merges).
CREATE VIEW IF NOT EXISTS {database}.quality_hourly AS
SELECT
    tenant_id, hour, model, model_version, prompt_version, feature,
    sum(thumbs_up) AS thumbs_up,
    sum(thumbs_down) AS thumbs_down,
    sum(ratings) AS ratings,
    sum(rating_sum) AS rating_sum,
    sum(comments) AS comments,
    sum(edits) AS edits,
    sum(copies) AS copies,
    sum(regenerates) AS regenerates,
    sum(rephrases) AS rephrases,
    sum(abandons) AS abandons,
    sum(responses) AS responses
FROM {database}.quality_hourly_parts
GROUP BY tenant_id, hour, model, model_version, prompt_version, feature
-- a rejoin leaves the old dimensions summing to zero everywhere: not a row worth showing
HAVING thumbs_up != 0 OR thumbs_down != 0 OR ratings != 0 OR comments != 0 OR edits != 0 OR copies != 0
    OR regenerates != 0 OR rephrases != 0 OR abandons != 0 OR responses != 0;
