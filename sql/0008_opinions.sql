-- Each rater's current opinion of a message (consumers/opinions.py writes it): at most one current
-- thumb and one current 1-5 rating per (tenant, message, rater), the latest by event time. A signed
-- log like events_log: replacing an opinion inserts the cancel row of the current one (sign -1, its
-- version) and the new one (next version) in one block; a late trace join does the same to move an
-- opinion to the trace's dimensions. The projections (written in the same part as the rows) give
-- the current-opinion counts of quality_hourly and reasons_hourly; the sort key serves lookups of a
-- message's opinions.
CREATE TABLE IF NOT EXISTS {database}.opinions_log
(
    tenant_id        LowCardinality(String),
    message_id       String,
    rater_kind       LowCardinality(String) COMMENT 'user, session, anonymous, or event (no rater id: the event alone)',
    rater            String COMMENT 'user_id, else session_id, else anonymous_id, else event_id',
    kind             LowCardinality(String) COMMENT 'thumb or rating',
    version          UInt32 COMMENT '1 for the first opinion of this rater, message and kind; one more on each change',
    event_id         String COMMENT 'the event that stated this opinion',
    ts               DateTime64(3, 'UTC'),
    thumb            LowCardinality(Nullable(String)) COMMENT 'up, down, or none (taken back: counts nowhere)',
    rating           Nullable(UInt8),
    reasons          Array(LowCardinality(String)),
    comment          Nullable(String),
    conversation_id  String,
    trace_id         Nullable(String),
    model            LowCardinality(Nullable(String)),
    model_version    LowCardinality(Nullable(String)),
    prompt_version   LowCardinality(Nullable(String)),
    feature          LowCardinality(Nullable(String)),
    trace_joined     Bool,
    sign             Int8,
    INDEX idx_trace trace_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_rater rater TYPE bloom_filter GRANULARITY 4,
    PROJECTION quality_hourly_opinions
    (
        SELECT
            tenant_id,
            toStartOfHour(ts),
            ifNull(model, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            ifNull(feature, ''),
            sum(sign * (ifNull(thumb, '') = 'up')),
            sum(sign * (ifNull(thumb, '') = 'down')),
            sum(sign * (ifNull(rating, 0) > 0)),
            sum(sign * ifNull(rating, 0))
        GROUP BY
            tenant_id,
            toStartOfHour(ts),
            ifNull(model, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            ifNull(feature, '')
    ),
    PROJECTION reasons_hourly_opinions
    (
        SELECT
            tenant_id,
            toStartOfHour(ts),
            ifNull(model, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            ifNull(feature, ''),
            sumMap(reasons, arrayResize([toInt64(sign)], length(reasons), toInt64(sign)))
        GROUP BY
            tenant_id,
            toStartOfHour(ts),
            ifNull(model, ''),
            ifNull(model_version, ''),
            ifNull(prompt_version, ''),
            ifNull(feature, '')
    )
)
ENGINE = CollapsingMergeTree(sign)
ORDER BY (tenant_id, message_id, rater_kind, rater, kind, version)
SETTINGS non_replicated_deduplication_window = 10000, deduplicate_merge_projection_mode = 'rebuild';

-- Upgrade in place: the current opinions of what is stored already (events joined to their trace
-- or not, as they are). Idempotent: a re-run after a crash part way adds only the opinions missing.
INSERT INTO {database}.opinions_log
    (tenant_id, message_id, rater_kind, rater, kind, version, event_id, ts, thumb, rating, reasons, comment,
     conversation_id, trace_id, model, model_version, prompt_version, feature, trace_joined, sign)
SELECT tenant_id, message, rater_kind, rater, opinion_kind, 1, event_id, ts, thumb, rating,
       if(ifNull(thumb, '') = 'none', [], reasons), comment, conversation_id, trace_id,
       model, model_version, prompt_version, feature, trace_joined, 1
FROM
(
    SELECT *, ifNull(message_id, '') AS message, if(type = 'thumbs', 'thumb', 'rating') AS opinion_kind
    FROM {database}.events
    WHERE type IN ('thumbs', 'rating')
    ORDER BY ts DESC, event_id DESC
    LIMIT 1 BY tenant_id, message, rater_kind, rater, opinion_kind
)
WHERE (tenant_id, message, rater_kind, rater, opinion_kind) NOT IN
      (SELECT tenant_id, message_id, rater_kind, rater, kind FROM {database}.opinions_log);

-- The per-user projection of events_log is replaced by opinions_log (its grouping was as large as
-- the log itself, and every event insert paid for it).
ALTER TABLE {database}.events_log DROP PROJECTION IF EXISTS ratings_latest;

-- One row per (tenant, message, rater): the rater's latest thumb (with its reasons, comment, time,
-- event) and, separately, the latest 1-5 rating. NULLs where the rater gave none of that kind.
-- A thumb `none` is shown as the latest thumb (taken back). No FINAL: the current opinion of a
-- rater, message and kind is its highest live version.
CREATE OR REPLACE VIEW {database}.ratings_current AS
SELECT
    tenant_id,
    message_id,
    rater_kind,
    rater,
    if(rater_kind = 'user', rater, NULL) AS user_id,
    if(thumbs > 0, tupleElement(t, 1), NULL) AS thumb,
    if(thumbs > 0, tupleElement(t, 2), []) AS reasons,
    if(thumbs > 0, tupleElement(t, 3), NULL) AS comment,
    if(thumbs > 0, tupleElement(t, 4), NULL) AS thumb_ts,
    if(thumbs > 0, tupleElement(t, 5), NULL) AS thumb_event_id,
    if(ratings > 0, tupleElement(r, 1), NULL) AS rating,
    if(ratings > 0, tupleElement(r, 2), NULL) AS rating_ts,
    if(ratings > 0, tupleElement(r, 3), NULL) AS rating_event_id
FROM
(
    SELECT
        tenant_id, message_id, rater_kind, rater,
        countIf(kind = 'thumb') AS thumbs,
        argMaxIf(tuple(thumb, reasons, comment, ts, event_id), version, kind = 'thumb') AS t,
        countIf(kind = 'rating') AS ratings,
        argMaxIf(tuple(rating, ts, event_id), version, kind = 'rating') AS r
    FROM {database}.opinions_log
    WHERE sign = 1
    GROUP BY tenant_id, message_id, rater_kind, rater
);

-- Hourly quality counts per tenant x model x model_version x prompt_version x feature. thumbs_up,
-- thumbs_down, ratings and rating_sum count each rater's CURRENT opinion once, in the hour of its
-- timestamp (opinions_log); comments and the implicit signals count events (events_log);
-- responses count traces (traces_log). Every part reads an aggregate projection kept with each
-- insert, so a plain SELECT is exact: no FINAL, no waiting for merges.
CREATE OR REPLACE VIEW {database}.quality_hourly AS
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
        toInt64(0) AS comments, toInt64(0) AS edits, toInt64(0) AS copies, toInt64(0) AS regenerates,
        toInt64(0) AS rephrases, toInt64(0) AS abandons, toInt64(0) AS responses
    FROM {database}.opinions_log
    GROUP BY tenant_id, hour, model, model_version, prompt_version, feature
    UNION ALL
    SELECT
        tenant_id,
        toStartOfHour(ts) AS hour,
        ifNull(model, '') AS model,
        ifNull(model_version, '') AS model_version,
        ifNull(prompt_version, '') AS prompt_version,
        ifNull(feature, '') AS feature,
        0, 0, 0, 0,
        sum(sign * notEmpty(ifNull(comment, ''))) AS comments,
        sum(sign * (type = 'edit')) AS edits,
        sum(sign * (type = 'copy')) AS copies,
        sum(sign * (type = 'regenerate')) AS regenerates,
        sum(sign * (type = 'rephrase')) AS rephrases,
        sum(sign * (type = 'abandon')) AS abandons,
        0
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
-- a moved opinion or a rejoin leaves the old dimensions summing to zero everywhere: not a row worth showing
HAVING thumbs_up != 0 OR thumbs_down != 0 OR ratings != 0 OR comments != 0 OR edits != 0 OR copies != 0
    OR regenerates != 0 OR rephrases != 0 OR abandons != 0 OR responses != 0;

-- Which reasons the current opinions give, per tenant x hour x model x model_version x
-- prompt_version x feature: `opinions` is how many current thumbs carry `reason`.
CREATE OR REPLACE VIEW {database}.reasons_hourly AS
SELECT tenant_id, hour, model, model_version, prompt_version, feature, reason, opinions
FROM
(
    SELECT
        tenant_id,
        toStartOfHour(ts) AS hour,
        ifNull(model, '') AS model,
        ifNull(model_version, '') AS model_version,
        ifNull(prompt_version, '') AS prompt_version,
        ifNull(feature, '') AS feature,
        sumMap(reasons, arrayResize([toInt64(sign)], length(reasons), toInt64(sign))) AS counted
    FROM {database}.opinions_log
    GROUP BY tenant_id, hour, model, model_version, prompt_version, feature
)
ARRAY JOIN tupleElement(counted, 1) AS reason, tupleElement(counted, 2) AS opinions
WHERE opinions != 0;
