-- Event schema v3: `anonymous_id`, a browser's own persistent id (the SDK keeps one per browser).
-- Who rated: `rater_kind` is `user` (user_id), `session` (session_id), `anonymous` (anonymous_id),
-- or `event` when the event names none of them (it then stands alone: its rater is its event_id).
-- ALIAS columns: computed on read, so rows written before need nothing (an event of an older
-- schema version has no anonymous_id; its rater is as before).
ALTER TABLE {database}.events_log
    ADD COLUMN IF NOT EXISTS anonymous_id Nullable(String) AFTER user_id;

ALTER TABLE {database}.events_log
    ADD COLUMN IF NOT EXISTS rater_kind LowCardinality(String) ALIAS multiIf(
        ifNull(user_id, '') != '', 'user', ifNull(session_id, '') != '', 'session',
        ifNull(anonymous_id, '') != '', 'anonymous', 'event');

ALTER TABLE {database}.events_log
    ADD COLUMN IF NOT EXISTS rater String ALIAS multiIf(
        ifNull(user_id, '') != '', assumeNotNull(user_id), ifNull(session_id, '') != '', assumeNotNull(session_id),
        ifNull(anonymous_id, '') != '', assumeNotNull(anonymous_id), event_id);

CREATE OR REPLACE VIEW {database}.events AS
SELECT * EXCEPT (version, sign), rater_kind, rater
FROM {database}.events_log FINAL
WHERE sign = 1;
