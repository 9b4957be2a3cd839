-- Hourly quality counts per tenant x model x model_version x prompt_version x feature.
-- Both halves read aggregate projections (kept up to date with every insert, atomically with
-- the rows), so a plain SELECT is exact: no FINAL, no waiting for merges.
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
FROM
(
    SELECT
        tenant_id,
        toStartOfHour(ts) AS hour,
        ifNull(model, '') AS model,
        ifNull(model_version, '') AS model_version,
        ifNull(prompt_version, '') AS prompt_version,
        ifNull(feature, '') AS feature,
        sum(sign * (ifNull(thumb, '') = 'up')) AS thumbs_up,
        sum(sign * (ifNull(thumb, '') = 'down')) AS thumbs_down,
        sum(sign * (ifNull(rating, 0) > 0)) AS ratings,
        sum(sign * ifNull(rating, 0)) AS rating_sum,
        sum(sign * notEmpty(ifNull(comment, ''))) AS comments,
        sum(sign * (type = 'edit')) AS edits,
        sum(sign * (type = 'copy')) AS copies,
        sum(sign * (type = 'regenerate')) AS regenerates,
        sum(sign * (type = 'rephrase')) AS rephrases,
        sum(sign * (type = 'abandon')) AS abandons,
        toInt64(0) AS responses
    FROM {database}.events_log
    GROUP BY tenant_id, hour, model, model_version, prompt_version, feature
    UNION ALL
    SELECT
        tenant_id,
        toStartOfHour(timestamp) AS hour,
        ifNull(model, '') AS model,
        ifNull(model_version, '') AS model_version,
        ifNull(prompt_version, '') AS prompt_version,
        ifNull(feature, '') AS feature,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        sum(sign) AS responses
    FROM {database}.traces_log
    GROUP BY tenant_id, hour, model, model_version, prompt_version, feature
)
GROUP BY tenant_id, hour, model, model_version, prompt_version, feature
-- a rejoin leaves the old dimensions summing to zero everywhere: not a row worth showing
HAVING thumbs_up != 0 OR thumbs_down != 0 OR ratings != 0 OR comments != 0 OR edits != 0 OR copies != 0
    OR regenerates != 0 OR rephrases != 0 OR abandons != 0 OR responses != 0;
