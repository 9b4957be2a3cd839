"""Root exceptions of the shared runtime."""

from __future__ import annotations


class RuntimeFailure(Exception):
    """Base of every error raised by the shared runtime."""


class ConfigError(RuntimeFailure):
    """A setting is present but unusable."""


class KafkaUnavailable(RuntimeFailure):
    """Kafka could not be reached or did not answer in time."""


class BrokerError(RuntimeFailure):
    """The local broker could not be fetched, started or stopped."""
