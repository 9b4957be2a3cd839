"""Upgrade in place: a database populated under the schema before current opinions (migrations up
to 0005) is migrated to the newest; nothing is lost or counted twice, and a re-run of the new
migrations (a crash before they were recorded) changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from operations.rejoin import rejoin_all
from runtime.migrations import bundled_migrations, migrate
from runtime.settings import Settings
from tests.helpers import new_id

pytestmark = [pytest.mark.clickhouse]

BEFORE_OPINIONS = 5  # the last migration of the schema being upgraded from

T = datetime(2026, 11, 2, 10, 30, tzinfo=UTC)
OLD_EVENT_COLUMNS = [
    "tenant_id", "event_id", "type", "timestamp", "received_at", "ts", "conversation_id", "trace_id", "message_id",
    "user_id", "session_id", "value", "thumb", "rating", "reasons", "model", "model_version", "prompt_version",
    "feature", "trace_joined", "version", "sign",
]  # fmt: skip
JOINED = {"v1": ("gm", "v1", "p1", "chat"), "v2": ("gm", "v2", "p2", "chat"), None: (None,) * 4}


def old_event(
    event_id: str, kind: str, ago_s: int, n: int, who: tuple[str | None, str | None], value: Any, reasons: list[str],
    joined: str | None, version: int = 1, sign: int = 1,
) -> list[Any]:  # fmt: skip
    """A row as the worker before this change wrote it; ``n`` numbers the conversation, trace and message."""
    ts = T - timedelta(seconds=ago_s)
    thumb = value if kind == "thumbs" else None
    rating = value if kind == "rating" else None
    return [
        "t1", event_id, kind, ts, T, ts, f"c{n}", f"tr{n}", f"m{n}", *who, None if value is None else str(value),
        thumb, rating, reasons, *JOINED[joined], joined is not None, version, sign,
    ]  # fmt: skip


U1, U2, U3, S1, NOBODY = ("u1", None), ("u2", None), ("u3", None), (None, "s1"), (None, None)
# What the worker before this change wrote: joined events, a change of mind (both thumbs were
# counted), a take-back, a thumb and a rating by one user, a session-only rater, events naming
# nobody, a late join (cancel row + joined next version), an event still waiting for its trace,
# copies, and a trace reported twice (the first cancelled).
OLD_EVENTS = [
    old_event("e01", "thumbs", 50, 1, U1, "up", ["useful"], "v1"),
    old_event("e02", "thumbs", 40, 1, U1, "down", ["slow"], "v1"),
    old_event("e03", "rating", 40, 1, U1, 4, [], "v1"),
    old_event("e04", "thumbs", 30, 1, U2, "down", ["hallucinated"], "v1"),
    old_event("e05", "thumbs", 20, 1, U2, "none", [], "v1"),
    old_event("e06", "thumbs", 20, 1, S1, "up", ["clear"], "v1"),
    old_event("e07", "thumbs", 10, 1, NOBODY, "up", [], "v1"),
    old_event("e08", "thumbs", 10, 1, NOBODY, "down", ["slow"], "v1"),
    old_event("e09", "copy", 10, 1, U1, None, [], "v1"),
    old_event("e10", "rating", 10, 2, U1, 2, [], None),
    old_event("e10", "rating", 10, 2, U1, 2, [], None, sign=-1),
    old_event("e10", "rating", 10, 2, U1, 2, [], "v2", version=2),
    old_event("e11", "thumbs", 5, 3, U3, "down", ["incorrect"], None),
    old_event("e12", "copy", 5, 3, U3, None, [], None),
]
TRACE_COLUMNS = [
    "tenant_id", "trace_id", "conversation_id", "received_at", "timestamp", "model", "model_version", "deployment",
    "environment", "input_tokens", "output_tokens", "retrieval", "tools", "version", "sign",
]  # fmt: skip
NO_RETRIEVAL: tuple[list[str], list[float], None, None] = ([], [], None, None)
OLD_TRACES = [
    ["t1", "tr1", "c1", T, T, "gm", "v0", "dep-a", "prod", 10, 20, NO_RETRIEVAL, [], 1000, 1],
    ["t1", "tr1", "c1", T, T, "gm", "v0", "dep-a", "prod", 10, 20, NO_RETRIEVAL, [], 1000, -1],
    ["t1", "tr1", "c1", T, T, "gm", "v1", "dep-a", "prod", 10, 20, (["d1", "d2"], [0.5, 0.4], 2, 1),
     [("search", True, 5, None)], 2000, 1],
    ["t1", "tr2", "c2", T, T, "gm", "v2", "dep-b", "prod", 11, 21, NO_RETRIEVAL, [], 3000, 1],
]  # fmt: skip

CURRENT_FROM_EVENTS = """
SELECT * FROM (
    SELECT tenant_id, ifNull(message_id, '') AS message, rater_kind, rater, type, thumb, rating, reasons, ts,
           event_id, ifNull(model, '') AS m, ifNull(model_version, '') AS mv, ifNull(prompt_version, '') AS pv,
           ifNull(feature, '') AS f
    FROM {db}.events WHERE type IN ('thumbs', 'rating')
    ORDER BY ts DESC, event_id DESC LIMIT 1 BY tenant_id, message, rater_kind, rater, type
)
"""
OPINIONS_FROM_EVENTS = f"""
SELECT toStartOfHour(ts) AS hour, m, mv, pv, f, countIf(thumb = 'up'), countIf(thumb = 'down'),
       countIf(rating IS NOT NULL), sum(ifNull(rating, 0))
FROM ({CURRENT_FROM_EVENTS}) GROUP BY ALL
HAVING countIf(thumb = 'up') + countIf(thumb = 'down') + countIf(rating IS NOT NULL) > 0 ORDER BY ALL
"""
OPINIONS_TABLE = """
SELECT hour, model, model_version, prompt_version, feature, thumbs_up, thumbs_down, ratings, rating_sum
FROM {db}.quality_hourly WHERE thumbs_up + thumbs_down + ratings != 0 ORDER BY ALL
"""
EVENT_COUNTS = """
SELECT hour, model, model_version, prompt_version, feature, comments, edits, copies, regenerates, rephrases,
       abandons, responses
FROM {db}.quality_hourly WHERE comments + edits + copies + regenerates + rephrases + abandons + responses != 0
ORDER BY ALL
"""
REASONS_FROM_EVENTS = f"""
SELECT toStartOfHour(ts) AS hour, m, mv, reason, count()
FROM ({CURRENT_FROM_EVENTS}) ARRAY JOIN reasons AS reason WHERE thumb IN ('up', 'down') GROUP BY ALL ORDER BY ALL
"""
REASONS_TABLE = "SELECT hour, model, model_version, reason, opinions FROM {db}.reasons_hourly ORDER BY ALL"
RATINGS_FROM_EVENTS = f"""
SELECT message, rater_kind, rater, argMaxIf(thumb, (ts, event_id), type = 'thumbs'),
       argMaxIf(rating, (ts, event_id), type = 'rating')
FROM ({CURRENT_FROM_EVENTS}) GROUP BY ALL ORDER BY ALL
"""
RATINGS_TABLE = "SELECT message_id, rater_kind, rater, thumb, rating FROM {db}.ratings_current ORDER BY ALL"
LIVE_ONCE = """
SELECT count() FROM (SELECT tenant_id, event_id, sum(sign) AS live FROM {db}.events_log GROUP BY ALL HAVING live != 1)
"""


def _rows(client: Client, sql: str, db: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in client.query(sql.format(db=db)).result_rows]


def _insert(client: Client, db: str, table: str, columns: list[str], rows: list[list[Any]]) -> None:
    client.insert(f"{db}.{table}", rows, column_names=columns)


def _assert_consistent(client: Client, db: str) -> None:
    assert _rows(client, LIVE_ONCE, db) == [(0,)]
    opinions = _rows(client, OPINIONS_FROM_EVENTS, db)
    assert opinions
    assert _rows(client, OPINIONS_TABLE, db) == opinions
    assert _rows(client, REASONS_TABLE, db) == _rows(client, REASONS_FROM_EVENTS, db)
    assert _rows(client, RATINGS_TABLE, db) == _rows(client, RATINGS_FROM_EVENTS, db)


def test_a_populated_database_upgrades_without_losing_or_double_counting(base_settings: Settings) -> None:
    db = f"upgrade_{new_id()}"
    client = base_settings.clickhouse().connect()
    old = [m for m in bundled_migrations() if m.version <= BEFORE_OPINIONS]
    new = [m for m in bundled_migrations() if m.version > BEFORE_OPINIONS]
    migrate(client, db, old)
    _insert(client, db, "events_log", OLD_EVENT_COLUMNS, OLD_EVENTS)
    _insert(client, db, "traces_log", TRACE_COLUMNS, OLD_TRACES)
    events_before = _rows(
        client, "SELECT event_id, type, trace_joined, model_version FROM {db}.events ORDER BY ALL", db
    )
    counts_before = _rows(client, EVENT_COUNTS, db)
    # the old counts: every thumb counted, a change of mind twice, a take-back's user still rated
    assert _rows(client, "SELECT sum(thumbs_up + thumbs_down) FROM {db}.quality_hourly", db) == [(7,)]

    assert [m.version for m in migrate(client, db)] == [m.version for m in new]

    assert _rows(client, "SELECT event_id, type, trace_joined, model_version FROM {db}.events ORDER BY ALL", db) == (
        events_before
    )
    assert _rows(client, EVENT_COUNTS, db) == counts_before
    _assert_consistent(client, db)
    # current opinions: u1 down + rating 4 on m1; u2 took back; s1 up; two nameless events; u1's
    # rating on m2; u3 down on m3 (its trace not there yet)
    assert _rows(client, "SELECT sum(thumbs_up), sum(thumbs_down), sum(ratings) FROM {db}.quality_hourly", db) == [
        (2, 3, 2)
    ]
    assert _rows(client, "SELECT rater_kind, count() FROM {db}.ratings_current GROUP BY ALL ORDER BY ALL", db) == [
        ("event", 2),
        ("session", 1),
        ("user", 4),
    ]
    # events joined before the upgrade carry the new trace dimensions too; the unjoined do not
    assert _rows(
        client,
        "SELECT event_id, deployment, environment, input_tokens, tool_count, retrieval_count, citations_shown "
        "FROM {db}.events WHERE event_id IN ('e01', 'e10', 'e11') ORDER BY event_id",
        db,
    ) == [
        ("e01", "dep-a", "prod", 10, 1, 2, 1),
        ("e10", "dep-b", "prod", 11, 0, 0, None),
        ("e11", None, None, None, None, None, None),
    ]

    # a crash after the new migrations ran but before they were recorded: they run again
    snapshot = [_rows(client, sql, db) for sql in (OPINIONS_TABLE, REASONS_TABLE, RATINGS_TABLE, EVENT_COUNTS)]
    for migration in new:
        for statement in migration.statements(db):
            client.command(statement)
    assert [_rows(client, sql, db) for sql in (OPINIONS_TABLE, REASONS_TABLE, RATINGS_TABLE, EVENT_COUNTS)] == (
        snapshot
    )
    _assert_consistent(client, db)

    # after the upgrade, the trace the old data waited for arrives: the event and its opinion move
    _insert(
        client,
        db,
        "traces_log",
        TRACE_COLUMNS,
        [["t1", "tr3", "c3", T, T, "gm", "v3", "dep-c", "prod", 1, 2, NO_RETRIEVAL, [], 4000, 1]],
    )
    assert rejoin_all(client, db) == 2
    _assert_consistent(client, db)
    assert _rows(client, "SELECT sum(thumbs_down) FROM {db}.quality_hourly WHERE model_version = 'v3'", db) == [(1,)]
