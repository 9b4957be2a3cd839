-- Derived signals (issue 15): the server's own `rephrase` / `abandon` events arrive through the
-- implicit topic like client signals, with received_via = 'derived'. `origin` names who made a
-- signal; computed from received_via, so it can never disagree with it (and rows written before
-- this migration read as `client`). The view lists its columns at creation: recreate it.
ALTER TABLE {database}.events_log
    ADD COLUMN IF NOT EXISTS origin LowCardinality(String)
        MATERIALIZED if(received_via = 'derived', 'derived', 'client') AFTER received_via;

CREATE OR REPLACE VIEW {database}.events AS
SELECT * EXCEPT (version, sign), rater_kind, rater, origin
FROM {database}.events_log FINAL
WHERE sign = 1;
