"""Retention (issue 17): after a migrate every table with personal data carries the TTL of
FEEDBACK_RETENTION_DAYS, changed by the next migrate when the setting changes; the topics the
pipeline creates keep messages FEEDBACK_TOPIC_RETENTION_HOURS."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # documented here, re-exported without __all__
    AdminClient,
    ConfigResource,
)

from runtime.kafka import ensure_topics
from runtime.migrations import migrate
from runtime.personal_data import PERSONAL_TABLES
from runtime.retention import current_ttl
from runtime.settings import Settings
from tests.helpers import new_id


def ttls(client: Client, database: str) -> dict[str, str | None]:
    rows = client.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = {db:String}", parameters={"db": database}
    ).result_rows
    return {name: current_ttl(query) for name, query in rows if name in {t.name for t in PERSONAL_TABLES}}


@pytest.mark.clickhouse
def test_migrate_sets_the_ttl_of_every_personal_table_and_follows_the_setting(clickhouse: Client) -> None:
    database = f"retention_{new_id()}"
    try:
        migrate(clickhouse, database, retention_days=7)
        assert ttls(clickhouse, database) == {
            "events_log": "toDateTime(received_at) + toIntervalDay(7)",
            "traces_log": "toDateTime(received_at) + toIntervalDay(7)",
            "opinions_log": "toDateTime(ts) + toIntervalDay(7)",
            "annotations_log": "toDateTime(received_at) + toIntervalDay(7)",
            "annotation_queue_log": "toDateTime(added_at) + toIntervalDay(7)",
        }
        migrate(clickhouse, database, retention_days=400)  # the setting changed: no migration, new TTL
        assert set(ttls(clickhouse, database).values()) == {
            "toDateTime(received_at) + toIntervalDay(400)",
            "toDateTime(ts) + toIntervalDay(400)",
            "toDateTime(added_at) + toIntervalDay(400)",
        }
        migrate(clickhouse, database, retention_days=0)  # keep for ever
        assert set(ttls(clickhouse, database).values()) == {None}
    finally:
        clickhouse.command(f"DROP DATABASE IF EXISTS {database}")


@pytest.mark.kafka
def test_created_topics_carry_the_topic_retention(kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(update={"topic_prefix": f"test-{new_id()}.", "topic_retention_hours": 36})
    ensure_topics(settings)
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    resources = [ConfigResource(ConfigResource.Type.TOPIC, settings.topic(kind)) for kind in ("explicit", "traces")]
    for resource, future in admin.describe_configs(resources).items():
        assert future.result()["retention.ms"].value == str(36 * 3_600_000), resource
    admin.delete_topics([settings.topic(kind) for kind in ("explicit", "implicit", "traces", "dlq")])
