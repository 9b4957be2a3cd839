from __future__ import annotations

import pytest

from runtime.clickhouse import ClickHouseTarget
from runtime.errors import ConfigError
from runtime.settings import Settings


def test_contract_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "FEEDBACK_KAFKA_BOOTSTRAP",
        "FEEDBACK_CLICKHOUSE_URL",
        "FEEDBACK_HTTP_ADDR",
        "FEEDBACK_TOPIC_PREFIX",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.clickhouse_url.get_secret_value() == "chdb://./.data/clickhouse"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.topic("explicit") == "feedback.explicit"
    assert settings.uses_local_kafka


def test_bootstrap_from_env_means_no_local_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_KAFKA_BOOTSTRAP", "kafka:9092")
    assert not Settings().uses_local_kafka


def test_chdb_paths() -> None:
    assert ClickHouseTarget("chdb://./.data/clickhouse").chdb_path.name == "clickhouse"
    assert str(ClickHouseTarget("chdb:///tmp/x").chdb_path) == "/tmp/x"
    assert not ClickHouseTarget("http://u:p@h:8123").embedded
    with pytest.raises(ConfigError):
        _ = ClickHouseTarget("chdb://").chdb_path
