"""One vocabulary (``schemas/vocabulary.py``) and one newest schema (``schemas/avro``): every place
that enumerates event types or event fields on its own is checked against them here, so a new
signal type or field fails a test until each aggregate and the SDK know it (or a line below says
why it need not)."""

from __future__ import annotations

import re
from pathlib import Path

from consumers.rows import EVENT_FIELDS
from quality.stats_queries import SIGNAL_COUNTS
from schemas.catalog import default_catalog
from schemas.vocabulary import (
    EVENT_TYPES,
    IMPLICIT_TYPES,
    SUBJECT_OF_TOPIC_KIND,
    TOPIC_KINDS,
    WORKER_TOPIC_KINDS,
    topic_kind,
)

ROOT = Path(__file__).resolve().parents[2]
SDK_TYPES = ROOT / "sdk" / "src" / "types.ts"
MIGRATIONS = ROOT / "sql"

# The aggregates that count signals by type, and the types each reads some other way (the reason).
AGGREGATES: dict[str, dict[str, str]] = {
    "quality_hourly": {
        "thumbs": "counted from the thumb column (up / down)",
        "rating": "counted and summed from the rating column",
        "comment": "counted from the comment column (any event carrying one)",
        "dwell": "a time, not a count: response_signals reads it",
    },
    "response_signals": {
        "rating": "a response's score is its label (quality/score.py), not a signal",
        "comment": "free text: read from events, never counted per response",
        "dwell": "read as dwell_ms (the longest), not counted",
    },
}
# Event fields the SDK does not send: the collector sets them (or the tenant, from the key).
SET_BY_THE_COLLECTOR = {"tenant_id", "sent_at", "received_at", "ts", "received_via", "redacted"}


def _defining(view: str) -> list[str]:
    """The SQL of every migration that creates ``view`` (a view, a table, or a projection of it)."""
    texts = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        text = path.read_text()
        if re.search(rf"(VIEW|TABLE)( IF NOT EXISTS)? \{{database\}}\.{view}\b", text) or f"PROJECTION {view}" in text:
            texts.append(text)
    return texts


def test_every_aggregate_counts_every_signal_type_or_says_why_not() -> None:
    for view, read_otherwise in AGGREGATES.items():
        texts = _defining(view)
        assert texts, f"no migration defines {view}"
        named = {kind for kind in EVENT_TYPES if any(f"'{kind}'" in text for text in texts)}
        missing = EVENT_TYPES - named - set(read_otherwise)
        assert not missing, f"{view} does not count {sorted(missing)}: add them to it (a migration), or say why here"
        assert set(read_otherwise) <= EVENT_TYPES, f"{view}: {set(read_otherwise) - EVENT_TYPES} are no event type"


def test_the_dashboard_counts_every_implicit_signal_of_a_response() -> None:
    missing = IMPLICIT_TYPES - set(SIGNAL_COUNTS)
    assert not missing, f"quality/stats_queries.py SIGNAL_COUNTS has no {sorted(missing)}"


def test_the_sdk_knows_every_event_type() -> None:
    union = re.search(r"export type EventType =(.*?);", SDK_TYPES.read_text(), re.DOTALL)
    assert union, f"no EventType in {SDK_TYPES}"
    assert set(re.findall(r'"([a-z_]+)"', union.group(1))) == EVENT_TYPES


def test_the_sdk_sends_every_event_field() -> None:
    source = SDK_TYPES.read_text()
    declared = set(re.findall(r"^\s+([a-z_]+)\??:", source, re.MULTILINE))
    fields = {field["name"] for field in default_catalog().latest("event").definition["fields"]}
    missing = fields - SET_BY_THE_COLLECTOR - declared
    assert not missing, f"sdk/src/types.ts has no {sorted(missing)} (FeedbackEvent / EventFields)"


def test_the_worker_stores_every_event_field() -> None:
    fields = [field["name"] for field in default_catalog().latest("event").definition["fields"]]
    derived = {"thumb", "rating"}  # from value (consumers/rows.py)
    assert set(EVENT_FIELDS) - derived == set(fields), "consumers/rows.py EVENT_HEAD/EVENT_TAIL: a field to add"


def test_topic_kinds_and_their_subjects() -> None:
    assert (*WORKER_TOPIC_KINDS, "dlq") == TOPIC_KINDS
    assert {topic_kind(kind) for kind in EVENT_TYPES} | {"traces"} == set(WORKER_TOPIC_KINDS)
    assert set(SUBJECT_OF_TOPIC_KIND.values()) == {"event", "trace"}
