-- Which messages have an opinion (issue 20): the key of each, in a key-value table. Making a batch's
-- opinions current looks up the raters' stored opinions of its messages in opinions_log, sorted by
-- message: random ids, a granule of the sort key each, about 100 µs per message however the table is
-- laid out (0032), 370 ms for a batch's 3,000 messages at 50M events. Most messages of a batch are
-- rated for the first time: this table answers "may it have an opinion?" for 3,000 messages in 15-20
-- ms (EmbeddedRocksDB: a point read per key), and only the messages it holds are looked up in
-- opinions_log (consumers/opinions.py).
--
-- It may hold more than opinions_log (what erasure or retention removed stays), never less: a batch's
-- messages are written to it BEFORE their opinions are recorded, and here, once, every message that
-- has an opinion. It holds message ids only, no content and no user.
--
-- One server's own table, neither replicated nor sharded: on a cluster every message is looked up in
-- opinions_log, as before (the worker sees the Distributed tables, consumers/cluster_tables.py).
CREATE TABLE IF NOT EXISTS {database}.rated_messages
(
    tenant_id  String,
    message_id String
)
ENGINE = EmbeddedRocksDB
PRIMARY KEY (tenant_id, message_id);

INSERT INTO {database}.rated_messages SELECT DISTINCT tenant_id, message_id FROM {database}.opinions_log;
