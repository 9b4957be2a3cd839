"""Derived signals: the server's own `rephrase` and `abandon` events, from traces and events.

They go to the implicit topic as ordinary EVENT messages (received_via ``derived``, so
``origin`` = ``derived`` in ClickHouse) with a deterministic ``event_id`` (uuid5 of tenant, rule
and response): deriving again, a crashed run and a replay all give the same ids, and the worker
stores each id once. A response that already has a signal of the rule's type (from the client or
derived) gets none. Rules and thresholds: README "Derived signals", docs/contract.md §2.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from clickhouse_connect.driver.client import Client
from confluent_kafka import KafkaError, Message, Producer

from quality.metrics import DERIVED
from quality.similarity import similarity
from runtime.kafka import producer_config
from runtime.settings import Settings
from schemas.serde import AvroEncoder

log = structlog.get_logger(__name__)

DERIVED_NAMESPACE = uuid.UUID("0b7e4d8a-2f4f-4d59-9a55-5c1f1b0c7e21")
# A client that reports its own rephrase sends it with the next prompt: give it this long to
# arrive before the server derives one for the same response.
REPHRASE_SETTLE_MS = 60_000
RECEIVED_VIA = "derived"


class DeriveFailed(Exception):
    """Kafka did not take the derived signals (nothing is lost: the next run derives them again)."""


@dataclass(frozen=True)
class Rules:
    lookback_s: float = 24 * 3600.0
    rephrase_within_s: float = 120.0
    rephrase_similarity: float = 0.5
    abandon_after_s: float = 1800.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            settings.derive_lookback_s,
            settings.derive_rephrase_within_s,
            settings.derive_rephrase_similarity,
            settings.derive_abandon_after_s,
        )


def derived_event_id(tenant_id: str, rule: str, trace_id: str) -> str:
    return str(uuid.uuid5(DERIVED_NAMESPACE, f"{tenant_id}\x1f{rule}\x1f{trace_id}"))


# Each response with the prompt that followed it in the same conversation (by trace time).
REPHRASE_SQL = """
SELECT tenant_id, conversation_id, trace_id, message_id, response_id, user_id, input_text,
       next_trace_id, next_timestamp, next_input
FROM
(
    SELECT
        tenant_id, conversation_id, trace_id, message_id, response_id, user_id, timestamp,
        ifNull(input_text, '') AS input_text,
        leadInFrame(trace_id) OVER w AS next_trace_id,
        leadInFrame(timestamp) OVER w AS next_timestamp,
        leadInFrame(ifNull(input_text, '')) OVER w AS next_input
    FROM {database}.traces
    WHERE timestamp >= {since:DateTime64(3, 'UTC')} AND timestamp <= {at:DateTime64(3, 'UTC')}
        AND ({tenant:String} = '' OR tenant_id = {tenant:String})
    WINDOW w AS (PARTITION BY tenant_id, conversation_id ORDER BY timestamp, trace_id
                 ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING)
)
WHERE next_trace_id != '' AND input_text != '' AND next_input != ''
    AND dateDiff('millisecond', next_timestamp, {at:DateTime64(3, 'UTC')}) >= {settle_ms:Int64}
    AND dateDiff('millisecond', timestamp, next_timestamp) <= {within_ms:Int64}
    AND (tenant_id, trace_id) NOT IN (
        SELECT tenant_id, ifNull(trace_id, '') FROM {database}.events
        WHERE type = 'rephrase' AND trace_id IS NOT NULL AND ts >= {since:DateTime64(3, 'UTC')})
"""

# The last response of each conversation, when nothing the user did came after it for the
# rule's time, it drew no positive signal and no abandon followed it yet.
ABANDON_SQL = """
WITH
    last AS (
        SELECT tenant_id, conversation_id,
            argMax((trace_id, message_id, response_id, user_id), (timestamp, trace_id)) AS latest,
            max(timestamp) AS response_ts
        FROM {database}.traces
        WHERE timestamp >= {since:DateTime64(3, 'UTC')} AND timestamp <= {at:DateTime64(3, 'UTC')}
            AND ({tenant:String} = '' OR tenant_id = {tenant:String})
        GROUP BY tenant_id, conversation_id
    ),
    activity AS (
        SELECT tenant_id, conversation_id,
            max(if(origin = 'client', ts, toDateTime64(0, 3, 'UTC'))) AS last_client_ts,
            max(if(type = 'abandon', ts, toDateTime64(0, 3, 'UTC'))) AS last_abandon_ts
        FROM {database}.events
        WHERE ts >= {since:DateTime64(3, 'UTC')}
        GROUP BY tenant_id, conversation_id
    ),
    positive AS (
        SELECT tenant_id, ifNull(trace_id, '') AS trace_id
        FROM {database}.events
        WHERE ts >= {since:DateTime64(3, 'UTC')} AND trace_id IS NOT NULL
            AND (type = 'copy' OR thumb = 'up' OR rating >= 4)
    )
SELECT l.tenant_id AS tenant_id, l.conversation_id AS conversation_id,
       tupleElement(l.latest, 1) AS trace_id, tupleElement(l.latest, 2) AS message_id,
       tupleElement(l.latest, 3) AS response_id, tupleElement(l.latest, 4) AS user_id,
       greatest(l.response_ts, a.last_client_ts) AS last_activity
FROM last AS l
LEFT JOIN activity AS a ON a.tenant_id = l.tenant_id AND a.conversation_id = l.conversation_id
WHERE dateDiff('millisecond', last_activity, {at:DateTime64(3, 'UTC')}) >= {after_ms:Int64}
    AND a.last_abandon_ts < l.response_ts
    AND (l.tenant_id, tupleElement(l.latest, 1)) NOT IN (SELECT tenant_id, trace_id FROM positive)
"""


def _ms(value: datetime) -> int:
    return int(value.replace(tzinfo=UTC).timestamp() * 1000) if value.tzinfo is None else int(value.timestamp() * 1000)


def _event(rule: str, row: dict[str, Any], ts_ms: int, received_at: int, properties: dict[str, str]) -> dict[str, Any]:
    return {
        "event_id": derived_event_id(row["tenant_id"], rule, row["trace_id"]),
        "tenant_id": row["tenant_id"],
        "type": rule,
        "timestamp": ts_ms,
        "sent_at": None,
        "received_at": received_at,
        "ts": ts_ms,
        "conversation_id": row["conversation_id"],
        "trace_id": row["trace_id"],
        "message_id": row["message_id"],
        "turn_id": None,
        "response_id": row["response_id"],
        "session_id": None,
        "user_id": row["user_id"],
        "value": None,
        "reasons": [],
        "comment": None,
        "edited_text": None,
        "edit_distance": None,
        "copied_chars": None,
        "attempt": None,
        "dwell_ms": None,
        "properties": {"derived_by": rule, **properties},
        "received_via": RECEIVED_VIA,
        "redacted": [],  # the server's own text: ids and scores, no personal data
    }


def find_signals(
    client: Client, database: str, rules: Rules, at: datetime, tenant: str | None = None
) -> list[dict[str, Any]]:
    """The derived EVENT records due at ``at`` (not yet stored), rephrases then abandons."""
    since = at - timedelta(seconds=rules.lookback_s)
    params: dict[str, Any] = {"since": since, "at": at, "tenant": tenant or ""}
    received_at = int(time.time() * 1000)
    out = []
    result = client.query(
        REPHRASE_SQL.replace("{database}", database),
        parameters={**params, "within_ms": int(rules.rephrase_within_s * 1000), "settle_ms": REPHRASE_SETTLE_MS},
    )
    for values in result.result_rows:
        row = dict(zip(result.column_names, values, strict=True))
        score = similarity(row["input_text"], row["next_input"])
        # Identical text is a resend or a regenerate, not a rephrase.
        if rules.rephrase_similarity <= score < 1.0:
            properties = {"similarity": f"{score:.3f}", "next_trace_id": row["next_trace_id"]}
            out.append(_event("rephrase", row, _ms(row["next_timestamp"]), received_at, properties))
    result = client.query(
        ABANDON_SQL.replace("{database}", database),
        parameters={**params, "after_ms": int(rules.abandon_after_s * 1000)},
    )
    for values in result.result_rows:
        row = dict(zip(result.column_names, values, strict=True))
        ts_ms = _ms(row["last_activity"]) + int(rules.abandon_after_s * 1000)
        out.append(_event("abandon", row, ts_ms, received_at, {"idle_s": str(int(rules.abandon_after_s))}))
    return out


def message_key(record: dict[str, Any]) -> bytes:
    """Tenant and conversation, as the collector keys (docs/contract.md §6): one conversation's
    traces and signals share a partition."""
    return f"{record['tenant_id']}/{record['conversation_id']}".encode()


def produce(settings: Settings, records: list[dict[str, Any]], timeout_s: float = 30.0) -> None:
    """Hand the records to the implicit topic; return once Kafka acknowledged every one."""
    if not records:
        return
    topic = settings.topic("implicit")
    encoder = AvroEncoder("event", registry=settings.registry(), topic=topic)
    producer = Producer(producer_config(settings))
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(err)

    for record in records:
        producer.produce(topic, encoder.encode(record), message_key(record), on_delivery=on_delivery)
        producer.poll(0)
    left = producer.flush(timeout_s)
    if left or errors:
        raise DeriveFailed(
            f"Kafka did not acknowledge {left + len(errors)} of {len(records)} derived signal(s)"
            + (f": {errors[0].str()}" if errors else "")
        )


def derive(
    settings: Settings, client: Client, *, at: datetime | None = None, tenant: str | None = None
) -> dict[str, int]:
    """Run the rules once and produce what they find; returns how many of each type."""
    when = (at or datetime.now(UTC)).astimezone(UTC)
    records = find_signals(client, settings.clickhouse_database, Rules.from_settings(settings), when, tenant)
    produce(settings, records)
    counts = {"rephrase": 0, "abandon": 0}
    for record in records:
        counts[record["type"]] += 1
        DERIVED.labels(record["type"]).inc()
    log.info("derive.done", **counts)
    return counts
