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
from producers.redaction import MIN_FINDING, PiiKind, RedactionMode, RedactionPolicy, Redactor
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

    def records(self, subject: str, records: list[Record]) -> None:
        """Each record of a request (``event`` or ``trace``), in place: its tenant's policy is looked
        up once per run of records of one tenant (a request's records all have the key's)."""
        texts = TRACE_TEXTS if subject == "trace" else EVENT_TEXTS
        tenant, policy = None, self.policies.default
        for record in records:
            if record["tenant_id"] != tenant:
                tenant = record["tenant_id"]
                policy = self.policies.of(tenant)
            if policy.mode is RedactionMode.OFF:
                record["redacted"] = []
            else:
                self._apply(subject, record, texts, policy)

    def _apply(self, subject: str, record: Record, texts: tuple[str, ...], policy: RedactionPolicy) -> None:
        found: set[PiiKind] = set()
        for name in texts:
            text = record.get(name)
            if text and len(text) >= MIN_FINDING:
                record[name] = self._text(text, policy, found)
        properties = record.get("properties")
        if properties:
            # Runs for every accepted item, and most maps are clean, with short values: the map is
            # rebuilt only when a value was replaced (``redact`` hands an unchanged text back as it is).
            replaced = {}
            for key, value in properties.items():
                if len(value) >= MIN_FINDING:
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
