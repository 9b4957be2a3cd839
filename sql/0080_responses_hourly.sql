-- Signals per response and hour (issue 16: the worst-responses list over millions of events). The
-- list ranked every message of the range from events_log's rows, which grows with every event of
-- the range. An aggregate projection of events_log, written with each insert in the same part as
-- the rows (like quality_hourly's), keeps per tenant x negative-or-not x hour x message x feature x
-- model_version x prompt_version the signed counts of the response's signals. Being part of
-- events_log it is exact through everything that happens to the rows: a deduplicated resend or
-- replay writes no part (so no counts either), a rejoin's cancel row nets its old dimensions to
-- zero, erasure and retention remove rows and the counts with them (a mutation rebuilds the
-- projection). Negative-or-not is a key, before the hour, so that the list's pool (the responses
-- with the most negative signals) reads the range's negative groups only, in one run. Parts written before this migration get it from the MATERIALIZE below (a mutation that runs
-- in the background; until then the queries read those parts' rows, with the same result).
-- Idempotent.
ALTER TABLE {database}.events_log
    ADD PROJECTION IF NOT EXISTS responses_hourly_events
    (
        SELECT
            tenant_id,
            (type = 'thumbs' AND ifNull(thumb, '') = 'down') OR (type = 'rating' AND ifNull(rating, 0) BETWEEN 1 AND 2),
            toStartOfHour(ts),
            cityHash64(tenant_id, ifNull(message_id, '')),
            ifNull(message_id, ''),
            ifNull(feature, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            sum(sign),
            sum(sign * ((type = 'thumbs' AND ifNull(thumb, '') = 'down') OR (type = 'rating' AND ifNull(rating, 0) BETWEEN 1 AND 2))),
            sum(sign * (type = 'thumbs' AND ifNull(thumb, '') = 'up')),
            sum(sign * (type = 'copy')),
            sum(sign * (type = 'edit')),
            sum(sign * (type = 'regenerate')),
            sum(sign * (type = 'rephrase')),
            sum(sign * (type = 'dwell')),
            sum(sign * (type = 'abandon')),
            min(ts),
            max(ts),
            anyIf(trace_id, trace_id IS NOT NULL)
        GROUP BY
            tenant_id,
            (type = 'thumbs' AND ifNull(thumb, '') = 'down') OR (type = 'rating' AND ifNull(rating, 0) BETWEEN 1 AND 2),
            toStartOfHour(ts),
            cityHash64(tenant_id, ifNull(message_id, '')),
            ifNull(message_id, ''),
            ifNull(feature, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, '')
    );

ALTER TABLE {database}.events_log MATERIALIZE PROJECTION responses_hourly_events;

-- Per tenant x hour (of `ts`) x response (message_id) x feature x model_version x prompt_version:
-- the signals events (signed sums: what `events` shows), `negatives` (thumbs down and ratings of
-- 1-2), the times of the first and last signal and the response's trace. Reads the projection.
CREATE OR REPLACE VIEW {database}.responses_hourly AS
SELECT tenant_id, hour, message_id, trace_id, feature, model_version, prompt_version, events, negatives,
       thumbs_up, copies, edits, regenerates, rephrases, dwells, abandons, first_ts, last_ts
FROM
(
    SELECT
        tenant_id,
        toStartOfHour(ts) AS hour,
        ifNull(message_id, '') AS message_id,
        ifNull(feature, '') AS feature,
        ifNull(model_version, '') AS model_version,
        ifNull(prompt_version, '') AS prompt_version,
        anyIf(trace_id, trace_id IS NOT NULL) AS trace_id,
        sum(sign) AS events,
        sum(sign * ((type = 'thumbs' AND ifNull(thumb, '') = 'down') OR (type = 'rating' AND ifNull(rating, 0) BETWEEN 1 AND 2))) AS negatives,
        sum(sign * (type = 'thumbs' AND ifNull(thumb, '') = 'up')) AS thumbs_up,
        sum(sign * (type = 'copy')) AS copies,
        sum(sign * (type = 'edit')) AS edits,
        sum(sign * (type = 'regenerate')) AS regenerates,
        sum(sign * (type = 'rephrase')) AS rephrases,
        sum(sign * (type = 'dwell')) AS dwells,
        sum(sign * (type = 'abandon')) AS abandons,
        min(ts) AS first_ts,
        max(ts) AS last_ts
    FROM {database}.events_log
    WHERE message_id IS NOT NULL
    GROUP BY tenant_id, hour, message_id, feature, model_version, prompt_version
)
-- a rejoin leaves the old dimensions summing to zero everywhere: not a row worth showing
WHERE events != 0;
