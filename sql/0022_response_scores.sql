-- The quality score (issue 15): `feedback score fit` stores a logistic regression of P(thumb up)
-- on the implicit signals of `response_signals`, with the data range it was fitted on. A
-- tenant's own newest model wins; else the newest model fitted across all tenants (tenant_id '').
CREATE TABLE IF NOT EXISTS {database}.score_models
(
    tenant_id     LowCardinality(String) COMMENT '\'\' = fitted across all tenants',
    model_id      String,
    fitted_at     DateTime64(3, 'UTC'),
    data_from     DateTime64(3, 'UTC') COMMENT 'first response timestamp of the training data',
    data_to       DateTime64(3, 'UTC') COMMENT 'last response timestamp of the training data',
    n_train       UInt32,
    n_test        UInt32,
    positives     UInt32 COMMENT 'thumbs up among the labelled responses',
    auc           Float64 COMMENT 'held-out ROC AUC',
    brier         Float64 COMMENT 'held-out Brier score (mean squared error of the probability)',
    calibration   String COMMENT 'held-out reliability bins, JSON [{lo, hi, n, predicted, observed}]',
    features      Array(String),
    intercept     Float64,
    coefficients  Map(String, Float64)
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant_id, model_id);

-- Every response's score: 1 / (1 + exp(-(intercept + sum of coefficient * signal))). The
-- signal names here are quality.features.FEATURES (a test holds the two together).
CREATE VIEW IF NOT EXISTS {database}.response_scores AS
WITH latest AS
(
    SELECT
        tenant_id,
        argMax(model_id, fitted_at) AS model_id,
        argMax(intercept, fitted_at) AS intercept,
        argMax(coefficients, fitted_at) AS coefficients
    FROM {database}.score_models
    GROUP BY tenant_id
)
SELECT
    r.tenant_id AS tenant_id,
    r.trace_id AS trace_id,
    r.conversation_id AS conversation_id,
    r.timestamp AS timestamp,
    r.model AS model,
    r.model_version AS model_version,
    r.prompt_version AS prompt_version,
    r.feature AS feature,
    r.thumb AS thumb,
    r.copied AS copied,
    r.regenerated AS regenerated,
    r.rephrased AS rephrased,
    r.abandoned AS abandoned,
    r.edited AS edited,
    r.dwell_ms AS dwell_ms,
    r.log_dwell_s AS log_dwell_s,
    r.tool_failed AS tool_failed,
    if(own.model_id != '', own.model_id, nullIf(global.model_id, '')) AS score_model_id,
    if(own.model_id != '', own.intercept, global.intercept) AS b0,
    if(own.model_id != '', own.coefficients, global.coefficients) AS b,
    if(score_model_id IS NULL, NULL, 1 / (1 + exp(-(
        b0
        + b['copied'] * r.copied
        + b['regenerated'] * r.regenerated
        + b['rephrased'] * r.rephrased
        + b['abandoned'] * r.abandoned
        + b['edited'] * r.edited
        + b['log_dwell_s'] * r.log_dwell_s
        + b['tool_failed'] * r.tool_failed
    )))) AS score
FROM
(
    SELECT *, '' AS all_tenants FROM {database}.response_signals
) AS r
LEFT JOIN latest AS own ON own.tenant_id = r.tenant_id
LEFT JOIN latest AS global ON global.tenant_id = r.all_tenants;

-- Hourly mean score per tenant x model x model_version x prompt_version x feature.
CREATE VIEW IF NOT EXISTS {database}.quality_scores_hourly AS
SELECT
    tenant_id,
    toStartOfHour(timestamp) AS hour,
    model,
    model_version,
    prompt_version,
    feature,
    count() AS responses,
    count(score) AS scored,
    avg(score) AS mean_score
FROM {database}.response_scores
GROUP BY tenant_id, hour, model, model_version, prompt_version, feature;
