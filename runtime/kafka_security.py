"""How the pipeline's Kafka clients authenticate and encrypt (TLS, SASL): the typed settings'
vocabulary and their checks, so a wrong combination fails at start naming the setting.

Every client (producer, consumer, admin) gets the same connection settings
(``runtime.kafka.connection_config``; docs/contract.md §2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"]

# Mechanisms that authenticate with FEEDBACK_KAFKA_SASL_USERNAME / _PASSWORD; the others take
# their settings (sasl.oauthbearer.*, sasl.kerberos.*) through FEEDBACK_KAFKA_CLIENT_CONFIG.
PASSWORD_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

# librdkafka properties that a typed setting owns (one place per fact) ...
TYPED = {
    "bootstrap.servers": "FEEDBACK_KAFKA_BOOTSTRAP",
    "security.protocol": "FEEDBACK_KAFKA_SECURITY_PROTOCOL",
    "sasl.mechanism": "FEEDBACK_KAFKA_SASL_MECHANISM",
    "sasl.mechanisms": "FEEDBACK_KAFKA_SASL_MECHANISM",
    "sasl.username": "FEEDBACK_KAFKA_SASL_USERNAME",
    "sasl.password": "FEEDBACK_KAFKA_SASL_PASSWORD",
    "ssl.ca.location": "FEEDBACK_KAFKA_SSL_CA_LOCATION",
    "ssl.certificate.location": "FEEDBACK_KAFKA_SSL_CERTIFICATE_LOCATION",
    "ssl.key.location": "FEEDBACK_KAFKA_SSL_KEY_LOCATION",
    "ssl.key.password": "FEEDBACK_KAFKA_SSL_KEY_PASSWORD",
    "message.max.bytes": "FEEDBACK_KAFKA_MAX_MESSAGE_BYTES",
}
# ... and those the pipeline's guarantees rest on: a 202 means every in-sync replica has the
# event, offsets are committed only once ClickHouse has the rows, one consumer group.
GUARANTEED = (
    "acks",
    "request.required.acks",
    "enable.idempotence",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "partition.assignment.strategy",
)
PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


def check_client_config(config: Mapping[str, SecretStr]) -> None:
    """FEEDBACK_KAFKA_CLIENT_CONFIG: extra librdkafka properties, none that a typed setting or a
    guarantee owns. ValueError names the property and the reason."""
    for name in config:
        if not PROPERTY_NAME.match(name):
            raise ValueError(f"{name!r} is not a librdkafka property name (e.g. ssl.endpoint.identification.algorithm)")
        if name in TYPED:
            raise ValueError(f"{name!r} is set with {TYPED[name]}, not here")
        if name in GUARANTEED:
            raise ValueError(
                f"{name!r} is fixed by the pipeline (acknowledged means replicated; commits follow writes)"
            )


def check_sasl(
    protocol: SecurityProtocol,
    mechanism: SaslMechanism | None,
    username: str | None,
    password: SecretStr | None,
) -> None:
    """SASL settings only with a SASL protocol, and complete. ValueError names what is missing."""
    sasl = protocol.startswith("SASL_")
    if not sasl:
        given = [
            name
            for name, value in (
                ("_SASL_MECHANISM", mechanism),
                ("_SASL_USERNAME", username),
                ("_SASL_PASSWORD", password),
            )
            if value is not None
        ]
        if given:
            raise ValueError(
                f"FEEDBACK_KAFKA{given[0]} needs FEEDBACK_KAFKA_SECURITY_PROTOCOL SASL_SSL or SASL_PLAINTEXT "
                f"(it is {protocol})"
            )
        return
    if mechanism is None:
        raise ValueError(f"FEEDBACK_KAFKA_SECURITY_PROTOCOL={protocol} needs FEEDBACK_KAFKA_SASL_MECHANISM")
    if mechanism in PASSWORD_MECHANISMS and (not username or password is None):
        missing = "FEEDBACK_KAFKA_SASL_USERNAME" if not username else "FEEDBACK_KAFKA_SASL_PASSWORD"
        raise ValueError(f"FEEDBACK_KAFKA_SASL_MECHANISM={mechanism} needs {missing}")
