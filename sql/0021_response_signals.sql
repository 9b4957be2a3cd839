-- One row per response (trace) with its trace dimensions and the signals it drew, each signal
-- type counted at most once per response whatever its origin: a derived `rephrase` and a client
-- `rephrase` on the same response make one rephrased response, never two (docs/contract.md §7).
-- `thumb` is the response's latest thumbs value by event time (`none` takes it back: NULL).
-- The quality score and the regression alerts (quality/) read this view.
CREATE VIEW IF NOT EXISTS {database}.response_signals AS
SELECT
    t.tenant_id AS tenant_id,
    t.trace_id AS trace_id,
    t.conversation_id AS conversation_id,
    t.timestamp AS timestamp,
    ifNull(t.model, '') AS model,
    ifNull(t.model_version, '') AS model_version,
    ifNull(t.prompt_version, '') AS prompt_version,
    ifNull(t.feature, '') AS feature,
    if(s.last_thumb IN ('up', 'down'), s.last_thumb, NULL) AS thumb,
    toUInt8(s.copies > 0) AS copied,
    toUInt8(s.regenerates > 0) AS regenerated,
    toUInt8(s.rephrases > 0) AS rephrased,
    toUInt8(s.abandons > 0) AS abandoned,
    toUInt8(s.edits > 0) AS edited,
    s.dwell_ms AS dwell_ms,
    log1p(s.dwell_ms / 1000) AS log_dwell_s,
    toUInt8(t.tool_failed) AS tool_failed
FROM {database}.traces AS t
LEFT JOIN
(
    SELECT
        tenant_id,
        ifNull(trace_id, '') AS trace_id,
        argMaxIf(ifNull(thumb, ''), (ts, event_id), type = 'thumbs') AS last_thumb,
        countIf(type = 'copy') AS copies,
        countIf(type = 'regenerate') AS regenerates,
        countIf(type = 'rephrase') AS rephrases,
        countIf(type = 'abandon') AS abandons,
        countIf(type = 'edit') AS edits,
        max(ifNull(dwell_ms, 0)) AS dwell_ms
    FROM {database}.events
    WHERE trace_id IS NOT NULL
    GROUP BY tenant_id, trace_id
) AS s ON s.tenant_id = t.tenant_id AND s.trace_id = t.trace_id;
