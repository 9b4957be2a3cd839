"""Redaction of accepted records (``producers.intake``) before they are encoded for Kafka.

The free text of the contract goes through the tenant's policy: an EVENT's ``comment``,
``edited_text`` and ``properties`` values; a TRACE's ``input_text``, ``output_text``, ``error``,
each tool call's ``error`` and ``properties`` values. Ids, codes (reasons, moderation flags) and
property names are not free text and stay as sent. The record's ``redacted`` field lists the
kinds replaced (event schema v4, trace schema v2), sorted; ``[]`` when nothing was.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from producers.metrics import REDACTED
from producers.redaction import PiiKind, RedactionMode, RedactionPolicy, Redactor
from producers.redaction_policy import TenantPolicies, hash_key_of, load_policies
from runtime.settings import Settings

Record = dict[str, Any]
EVENT_TEXTS = ("comment", "edited_text")
TRACE_TEXTS = ("input_text", "output_text", "error")


class RecordRedaction:
    """Applies each tenant's policy to the records of a request, in place."""

    def __init__(self, policies: TenantPolicies, redactor: Redactor) -> None:
        self.policies = policies
        self._redactor = redactor

    @classmethod
    def of(cls, settings: Settings) -> RecordRedaction:
        """From FEEDBACK_REDACTION_POLICY_FILE and FEEDBACK_REDACTION_HASH_KEY; raises
        RedactionPolicyError (a bad file, or hash mode without a key) so the collector does not start."""
        policies = load_policies(settings.redaction_policy_file)
        secret = settings.redaction_hash_key
        return cls(policies, Redactor(hash_key_of(policies, secret.get_secret_value() if secret else None)))

    def event(self, record: Record) -> None:
        self._apply("event", record, EVENT_TEXTS)

    def trace(self, record: Record) -> None:
        self._apply("trace", record, TRACE_TEXTS)

    def _apply(self, subject: str, record: Record, texts: tuple[str, ...]) -> None:
        policy = self.policies.of(record["tenant_id"])
        if policy.mode is RedactionMode.OFF:
            record["redacted"] = []
            return
        found: set[PiiKind] = set()
        for name in texts:
            text = record.get(name)
            if text:
                record[name] = self._text(text, policy, found)
        properties = record.get("properties")
        if properties:
            # Runs for every accepted item, and most maps are clean: the map is rebuilt only when a
            # value was replaced (``redact`` hands an unchanged text back as it is).
            replaced = {}
            for key, value in properties.items():
                redacted = self._text(value, policy, found)
                if redacted is not value:
                    replaced[key] = redacted
            if replaced:
                record["properties"] = {**properties, **replaced}
        for tool in record.get("tools") or ():
            if tool.get("error"):
                tool["error"] = self._text(tool["error"], policy, found)
        if not found:
            record["redacted"] = []
            return
        record["redacted"] = sorted(found)
        for kind in found:
            _counter(subject, kind).inc()

    def _text(self, text: str, policy: RedactionPolicy, found: set[PiiKind]) -> str:
        redacted, kinds = self._redactor.redact(text, policy)
        if kinds:
            found.update(kinds)
        return redacted


@cache
def _counter(subject: str, kind: PiiKind) -> Any:
    """The metric's child for these labels, looked up once (``labels()`` costs more than ``inc()``)."""
    return REDACTED.labels(subject, kind.value)
