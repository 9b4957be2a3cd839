-- Erasure on request (`feedback forget`, POST /v1/forget; docs/contract.md §7). `erasures` records
-- each request: who asked, when, and what was removed per table (`removed`: label -> count).
CREATE TABLE IF NOT EXISTS {database}.erasures
(
    tenant_id     LowCardinality(String),
    user_id       String,
    requested_at  DateTime64(3, 'UTC'),
    requested_by  String COMMENT 'the key kind and tenant that asked (secret:acme, admin), or cli:<os user>',
    removed       Map(String, UInt64) COMMENT 'per table (events, traces, opinions, ...): what was removed',
    conversations UInt32 COMMENT 'how many conversations of the user were erased'
)
ENGINE = MergeTree
ORDER BY (tenant_id, user_id, requested_at);

-- What the pipeline must never store again: the erased user, their conversations and their
-- responses (trace ids). Written before anything is removed; the worker drops every event and
-- trace that matches (a replay, a DLQ redrive or an old message the live workers read later), and
-- the erasure removes what matches from every table of runtime/personal_data.py. Kept without a
-- TTL: it must outlive every copy of the data (Kafka topics, the DLQ, backups being restored).
CREATE TABLE IF NOT EXISTS {database}.erased_ids
(
    tenant_id     LowCardinality(String),
    kind          LowCardinality(String) COMMENT 'user, conversation or trace',
    id            String,
    user_id       String COMMENT 'the erased user this id belongs to',
    requested_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(requested_at)
ORDER BY (tenant_id, kind, id, user_id);
