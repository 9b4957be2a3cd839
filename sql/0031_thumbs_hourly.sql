-- Thumbs by what the response went through (issue 20): "do tool failures or slow answers get
-- punished?" was answered from `events`, whose FINAL reads every row's key (event_id and all) and
-- grows with the whole history. An aggregate projection of events_log, written with each insert in
-- the same part as the rows (atomic like quality_hourly's), keeps the thumbs per tenant x hour x
-- model x versions x feature x trace_joined x tool_failed x whole seconds of latency, as signed
-- sums: exact with a plain SELECT before and after merges. Parts written before this migration get
-- it from the MATERIALIZE below (a mutation that runs in the background; until then the view reads
-- those parts' rows, with the same result).
ALTER TABLE {database}.events_log
    ADD PROJECTION IF NOT EXISTS thumbs_hourly_events
    (
        SELECT
            tenant_id,
            toStartOfHour(ts),
            ifNull(model, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            ifNull(feature, ''),
            trace_joined,
            tool_failed,
            intDiv(latency_ms, 1000),
            sum(sign * (type = 'thumbs')),
            sum(sign * (ifNull(thumb, '') = 'up')),
            sum(sign * (ifNull(thumb, '') = 'down'))
        GROUP BY
            tenant_id,
            toStartOfHour(ts),
            ifNull(model, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            ifNull(feature, ''),
            trace_joined,
            tool_failed,
            intDiv(latency_ms, 1000)
    );

ALTER TABLE {database}.events_log MATERIALIZE PROJECTION thumbs_hourly_events;

-- Thumbs EVENTS (every click, not only current opinions: those are quality_hourly's) per tenant x
-- hour x model x model_version x prompt_version x feature x trace_joined x tool_failed x
-- latency_s (the trace's latency in whole seconds; NULL without a trace or a latency).
CREATE OR REPLACE VIEW {database}.thumbs_hourly AS
SELECT tenant_id, hour, model, model_version, prompt_version, feature, trace_joined, tool_failed, latency_s,
       thumbs, thumbs_up, thumbs_down
FROM
(
    SELECT
        tenant_id,
        toStartOfHour(ts) AS hour,
        ifNull(model, '') AS model,
        ifNull(model_version, '') AS model_version,
        ifNull(prompt_version, '') AS prompt_version,
        ifNull(feature, '') AS feature,
        trace_joined,
        tool_failed,
        intDiv(latency_ms, 1000) AS latency_s,
        sum(sign * (type = 'thumbs')) AS thumbs,
        sum(sign * (ifNull(thumb, '') = 'up')) AS thumbs_up,
        sum(sign * (ifNull(thumb, '') = 'down')) AS thumbs_down
    FROM {database}.events_log
    GROUP BY tenant_id, hour, model, model_version, prompt_version, feature, trace_joined, tool_failed, latency_s
)
WHERE thumbs != 0;
