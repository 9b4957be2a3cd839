"""Retention: the TTL statements for FEEDBACK_RETENTION_DAYS, and the config of created topics."""

from __future__ import annotations

import pytest

from runtime.kafka import topic_config
from runtime.personal_data import PERSONAL_TABLES, personal_table
from runtime.retention import current_ttl, retention_statements, ttl_expression, ttl_statement
from runtime.settings import Settings


def test_every_personal_table_gets_a_ttl_from_its_own_time_column() -> None:
    events = personal_table("events_log")
    assert ttl_statement("feedback", events, 400) == (
        "ALTER TABLE feedback.events_log MODIFY TTL toDateTime(received_at) + toIntervalDay(400)"
    )
    opinions = personal_table("opinions_log")
    statement = ttl_statement("db", opinions, 30)
    assert statement == "ALTER TABLE db.opinions_log MODIFY TTL toDateTime(ts) + toIntervalDay(30)"
    assert {table.name for table in PERSONAL_TABLES} >= {"events_log", "traces_log", "opinions_log"}


def test_zero_days_removes_the_ttl_and_a_negative_number_is_refused() -> None:
    assert ttl_statement("db", personal_table("traces_log"), 0) == "ALTER TABLE db.traces_log REMOVE TTL"
    with pytest.raises(ValueError, match="FEEDBACK_RETENTION_DAYS"):
        ttl_statement("db", personal_table("traces_log"), -1)


def test_only_tables_whose_ttl_differs_are_altered() -> None:
    wanted = {table.name: ttl_expression(table, 400) for table in PERSONAL_TABLES}
    assert retention_statements("db", 400, wanted) == []
    changed = {**wanted, "traces_log": ttl_expression(personal_table("traces_log"), 30)}
    assert retention_statements("db", 400, changed) == [ttl_statement("db", personal_table("traces_log"), 400)]
    none = {name: None for name in wanted}
    assert retention_statements("db", 0, none) == []
    assert len(retention_statements("db", 7, none)) == len(PERSONAL_TABLES)


def test_a_missing_personal_table_is_an_error_naming_it() -> None:
    with pytest.raises(KeyError, match=r"db\.events_log"):
        retention_statements("db", 400, {})


def test_the_ttl_is_read_back_from_the_create_statement() -> None:
    create = (
        "CREATE TABLE db.events_log (`ts` DateTime64(3, 'UTC'), `tmp` String TTL toDateTime(ts) + toIntervalDay(1)) "
        "ENGINE = CollapsingMergeTree(sign) ORDER BY (tenant_id, event_id, version) "
        "TTL toDateTime(received_at) + toIntervalDay(400) SETTINGS index_granularity = 8192"
    )
    assert current_ttl(create) == "toDateTime(received_at) + toIntervalDay(400)"
    plain = "CREATE TABLE t (a Int8) ENGINE = MergeTree ORDER BY a SETTINGS index_granularity = 8192"
    assert current_ttl(plain) is None


def test_created_topics_keep_messages_for_the_topic_retention() -> None:
    assert topic_config(Settings(), 1)["retention.ms"] == str(168 * 3_600_000)
    config = topic_config(Settings(topic_retention_hours=2, kafka_max_message_bytes=65_536), 1)
    assert config == {"max.message.bytes": "65536", "retention.ms": "7200000"}
