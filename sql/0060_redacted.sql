-- Event schema v4 / trace schema v2: `redacted`, the kinds of personal data (email, phone, card,
-- iban, ip, secret) the collector replaced in a record's free text before it reached Kafka
-- (docs/contract.md, "Redaction"). Rows written before read as [] (nothing recorded).
ALTER TABLE {database}.events_log
    ADD COLUMN IF NOT EXISTS redacted Array(LowCardinality(String)) AFTER received_via;

ALTER TABLE {database}.traces_log
    ADD COLUMN IF NOT EXISTS redacted Array(LowCardinality(String)) AFTER properties;

-- A view's `*` is expanded when it is created: again, with the new column.
CREATE OR REPLACE VIEW {database}.events AS
SELECT * EXCEPT (version, sign), rater_kind, rater, origin
FROM {database}.events_log FINAL
WHERE sign = 1;

CREATE OR REPLACE VIEW {database}.traces AS
SELECT * EXCEPT (version, sign), tool_failed, tool_count, retrieval_count
FROM {database}.traces_log FINAL
WHERE sign = 1;
