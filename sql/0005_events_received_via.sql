-- Event schema v2: how the collector got the event (http, or a browser's sendBeacon).
-- Rows written before keep the default.
ALTER TABLE {database}.events_log
    ADD COLUMN IF NOT EXISTS received_via LowCardinality(String) DEFAULT 'http' AFTER properties;

CREATE OR REPLACE VIEW {database}.events AS
SELECT * EXCEPT (version, sign)
FROM {database}.events_log FINAL
WHERE sign = 1;
