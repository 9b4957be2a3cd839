"""TLS/SASL settings reach every Kafka client the pipeline builds, and bad combinations fail at
start naming the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr, ValidationError

from feedback.services import kafka_health
from runtime.kafka import admin_config, connection_config, consumer_config, producer_config
from runtime.settings import Settings

SECURED: dict[str, Any] = {
    "kafka_bootstrap": "kafka-1:9093,kafka-2:9093",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "feedback",
    "kafka_sasl_password": SecretStr("s3cret-pw"),
    "kafka_ssl_ca_location": Path("/etc/feedback/ca.pem"),
    "kafka_ssl_certificate_location": Path("/etc/feedback/client.pem"),
    "kafka_ssl_key_location": Path("/etc/feedback/client.key"),
    "kafka_ssl_key_password": SecretStr("key-pw"),
    "kafka_client_config": {"ssl.endpoint.identification.algorithm": SecretStr("none")},
}
EXPECTED = {
    "bootstrap.servers": "kafka-1:9093,kafka-2:9093",
    "security.protocol": "sasl_ssl",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "feedback",
    "sasl.password": "s3cret-pw",
    "ssl.ca.location": "/etc/feedback/ca.pem",
    "ssl.certificate.location": "/etc/feedback/client.pem",
    "ssl.key.location": "/etc/feedback/client.key",
    "ssl.key.password": "key-pw",
    "ssl.endpoint.identification.algorithm": "none",
}


def test_security_settings_reach_producer_consumer_and_admin_configs() -> None:
    settings = Settings(**SECURED)
    configs = {
        "connection": connection_config(settings),
        "producer": producer_config(settings),
        "consumer": consumer_config(settings, "g"),
        "admin": admin_config(settings),
        "health": kafka_health(settings)._config,
    }
    for name, config in configs.items():
        assert EXPECTED.items() <= config.items(), name
    # The producer's guarantees are not diluted by the pass-through.
    assert (configs["producer"]["acks"], configs["producer"]["enable.idempotence"]) == ("all", True)


def test_plaintext_by_default() -> None:
    config = connection_config(Settings())
    assert config["security.protocol"] == "plaintext"
    assert not {key for key in config if key.startswith(("sasl.", "ssl."))}


def test_librdkafka_accepts_the_properties() -> None:
    # Building a client checks every property name and value; nothing connects until used.
    fields: dict[str, Any] = {
        "kafka_bootstrap": "127.0.0.1:1",
        "kafka_security_protocol": "sasl_plaintext",  # any case, like librdkafka
        "kafka_sasl_mechanism": "scram-sha-256",
        "kafka_sasl_username": "feedback",
        "kafka_sasl_password": SecretStr("pw"),
        # as JSON gives them: strings, booleans, numbers
        "kafka_client_config": {"client.id": "feedback-test", "socket.keepalive.enable": True, "linger.ms": 5},
    }
    settings = Settings(**fields)
    assert settings.kafka_security_protocol == "SASL_PLAINTEXT"
    Producer(producer_config(settings)).flush(0)
    Consumer(consumer_config(settings, "g")).close()
    AdminClient(admin_config(settings))


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("FEEDBACK_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("FEEDBACK_KAFKA_SASL_USERNAME", "feedback")
    monkeypatch.setenv("FEEDBACK_KAFKA_SASL_PASSWORD", "from-env")
    monkeypatch.setenv("FEEDBACK_KAFKA_SSL_CA_LOCATION", "/etc/ssl/ca.pem")
    monkeypatch.setenv(
        "FEEDBACK_KAFKA_CLIENT_CONFIG",
        '{"client.rack": "eu-west-1a", "socket.keepalive.enable": true, "reconnect.backoff.ms": 200}',
    )
    config = producer_config(Settings())
    assert config["sasl.password"] == "from-env"
    assert config["ssl.ca.location"] == "/etc/ssl/ca.pem"
    assert config["client.rack"] == "eu-west-1a"
    assert (config["socket.keepalive.enable"], config["reconnect.backoff.ms"]) == ("true", "200")


def test_secrets_never_show_in_the_settings_repr() -> None:
    settings = Settings(**SECURED)
    shown = f"{settings!r} {settings}"
    for secret in ("s3cret-pw", "key-pw"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "FEEDBACK_KAFKA_SASL_MECHANISM"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "u"},
            "FEEDBACK_KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "PLAIN", "kafka_sasl_password": "p"},
            "FEEDBACK_KAFKA_SASL_USERNAME",
        ),
        ({"kafka_sasl_mechanism": "PLAIN"}, "FEEDBACK_KAFKA_SASL_MECHANISM needs FEEDBACK_KAFKA_SECURITY_PROTOCOL"),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"kafka_client_config": {"sasl.password": "p"}}, "FEEDBACK_KAFKA_SASL_PASSWORD"),
        ({"kafka_client_config": {"acks": "1"}}, "fixed by the pipeline"),
        ({"kafka_client_config": {"enable.idempotence": "false"}}, "fixed by the pipeline"),
        ({"kafka_client_config": {"Not A Property": "x"}}, "not a librdkafka property"),
        ({"topic_replication": 0}, "topic_replication"),
    ],
)
def test_bad_combinations_name_the_setting(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        Settings(**fields)


def test_oauthbearer_takes_its_settings_through_the_pass_through() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="OAUTHBEARER",
        kafka_client_config={
            "sasl.oauthbearer.method": SecretStr("oidc"),
            "sasl.oauthbearer.client.secret": SecretStr("oidc-secret"),
        },
    )
    assert connection_config(settings)["sasl.oauthbearer.client.secret"] == "oidc-secret"
    assert "oidc-secret" not in repr(settings)
