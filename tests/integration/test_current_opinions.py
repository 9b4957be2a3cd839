"""Each rater's current opinion counts once: changes of mind, take-backs, anonymous raters, thumbs
plus ratings on one message, resends, events arriving out of order and traces arriving late.

Every count is compared twice: with what the test itself expects (a model of the rules in Python)
and with a straightforward query over ``events``.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from consumers.bulk import BulkEventWriter
from consumers.frames import Framed
from consumers.opinions import record_statements
from consumers.rows import event_row
from consumers.store import ClickHouseStore
from producers.intake import accept_events
from runtime.migrations import bundled_migrations, migrate
from runtime.settings import Settings
from schemas.serde import AvroDecoder, AvroEncoder
from tests.helpers import event, new_id, trace, wait_for
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.clickhouse]

HOUR_MS = 3_600_000

# The straightforward reading of the rules over `events`: the latest thumb and the latest rating of
# each rater on each message, by event time (ties: the larger event_id).
CURRENT_FROM_EVENTS = """
SELECT * FROM
(
    SELECT message_id, rater_kind, rater, type, thumb, rating, reasons, ts, event_id, model_version
    FROM events
    WHERE tenant_id = 'acme' AND model = {model:String} AND type IN ('thumbs', 'rating')
    ORDER BY ts DESC, event_id DESC
    LIMIT 1 BY message_id, rater_kind, rater, type
)
"""
QUALITY_FROM_EVENTS = f"""
SELECT toStartOfHour(ts) AS hour, model_version, countIf(thumb = 'up'), countIf(thumb = 'down'),
       countIf(rating IS NOT NULL), sum(ifNull(rating, 0))
FROM ({CURRENT_FROM_EVENTS})
GROUP BY hour, model_version
HAVING countIf(thumb = 'up') + countIf(thumb = 'down') + countIf(rating IS NOT NULL) > 0
ORDER BY ALL
"""
QUALITY_TABLE = """
SELECT hour, model_version, thumbs_up, thumbs_down, ratings, rating_sum
FROM quality_hourly
WHERE tenant_id = 'acme' AND model = {model:String} AND thumbs_up + thumbs_down + ratings != 0
ORDER BY ALL
"""
REASONS_FROM_EVENTS = f"""
SELECT toStartOfHour(ts) AS hour, model_version, reason, count()
FROM ({CURRENT_FROM_EVENTS}) ARRAY JOIN reasons AS reason
WHERE thumb IN ('up', 'down')
GROUP BY ALL ORDER BY ALL
"""
REASONS_TABLE = """
SELECT hour, model_version, reason, opinions FROM reasons_hourly
WHERE tenant_id = 'acme' AND model = {model:String} ORDER BY ALL
"""
RATINGS_TABLE = """
SELECT message_id, rater_kind, rater, thumb, reasons, thumb_event_id, rating, rating_event_id
FROM ratings_current WHERE tenant_id = 'acme' AND message_id IN {messages:Array(String)} ORDER BY ALL
"""


def _hour(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // HOUR_MS * HOUR_MS / 1000, UTC).replace(tzinfo=None)


class Scenario:
    """Random explicit feedback on a few messages by a few raters of every kind, and what the
    rules say it should come to."""

    def __init__(self, seed: int, messages: int = 6) -> None:
        rng = random.Random(seed)
        self.model = new_id("op-model-")
        self.traces: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.messages: list[str] = []
        now = int(time.time() * 1000)
        raters: list[tuple[str, dict[str, Any]]] = [
            ("user", {"user_id": new_id("u-")}),
            ("user", {"user_id": new_id("u-"), "session_id": new_id("s-")}),  # the user id wins
            ("session", {"user_id": None, "session_id": new_id("s-")}),
            ("anonymous", {"user_id": None, "anonymous_id": new_id("a-")}),
            ("anonymous", {"user_id": None, "anonymous_id": new_id("a-")}),  # another browser
        ]
        for index in range(messages):
            conversation, trace_id, message = new_id("conv-"), new_id("trace-"), new_id("msg-")
            self.messages.append(message)
            self.traces.append(trace(trace_id, conversation, model=self.model, model_version=f"mv{index % 2}"))
            common = {"conversation_id": conversation, "trace_id": trace_id, "message_id": message}
            for _kind, identity in raters:
                for _ in range(rng.randint(1, 4)):  # changes of mind, over a few hours
                    stamp = now - rng.randint(0, 3 * HOUR_MS)
                    if rng.random() < 0.6:
                        value = rng.choice(["up", "down", "down", "none"])
                        reasons = {"up": ["useful"], "down": rng.choice([["hallucinated"], ["slow", "incorrect"]])}
                        self.events.append(
                            event(
                                "thumbs",
                                value=value,
                                reasons=reasons.get(value, []),
                                timestamp=stamp,
                                **common,
                                **identity,
                            )
                        )
                    else:
                        self.events.append(
                            event("rating", value=rng.randint(1, 5), timestamp=stamp, **common, **identity)
                        )
            # an event naming no rater stands alone: it counts once and nothing replaces it
            self.events.append(event("thumbs", value="up", reasons=[], user_id=None, timestamp=now - 1000, **common))
        rng.shuffle(self.events)  # out of order

    @staticmethod
    def rater(item: dict[str, Any]) -> tuple[str, str]:
        for kind, field in (("user", "user_id"), ("session", "session_id"), ("anonymous", "anonymous_id")):
            if item.get(field):
                return kind, item[field]
        return "event", item["event_id"]

    def current(self) -> dict[tuple[str, str, str, str], dict[str, Any]]:
        latest: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for item in self.events:
            key = (item["message_id"], *self.rater(item), item["type"])
            if key not in latest or (item["timestamp"], item["event_id"]) > (
                latest[key]["timestamp"],
                latest[key]["event_id"],
            ):
                latest[key] = item
        return latest

    def model_version(self, item: dict[str, Any]) -> str:
        version: str = next(t["model_version"] for t in self.traces if t["trace_id"] == item["trace_id"])
        return version

    def quality(self) -> list[tuple[Any, ...]]:
        counts: dict[tuple[datetime, str], list[int]] = {}
        for item in self.current().values():
            row = counts.setdefault((_hour(item["timestamp"]), self.model_version(item)), [0, 0, 0, 0])
            if item["type"] == "thumbs":
                row[0] += item["value"] == "up"
                row[1] += item["value"] == "down"
            else:
                row[2] += 1
                row[3] += item["value"]
        return sorted((*key, *row) for key, row in counts.items() if row[0] + row[1] + row[2])

    def reasons(self) -> list[tuple[Any, ...]]:
        counted: Counter[tuple[datetime, str, str]] = Counter()
        for item in self.current().values():
            if item["type"] == "thumbs" and item["value"] != "none":
                for reason in item["reasons"]:
                    counted[(_hour(item["timestamp"]), self.model_version(item), reason)] += 1
        return sorted((*key, count) for key, count in counted.items())

    def ratings(self) -> list[tuple[Any, ...]]:
        per_rater: dict[tuple[str, str, str], list[Any]] = {}
        for (message, kind, rater, event_type), item in self.current().items():
            row = per_rater.setdefault((message, kind, rater), [None, [], None, None, None])
            if event_type == "thumbs":
                row[0:3] = [item["value"], item["reasons"], item["event_id"]]
            else:
                row[3:5] = [item["value"], item["event_id"]]
        return sorted((*key, *row) for key, row in per_rater.items())


def _post_all(pipeline: RunningPipeline, items: list[dict[str, Any]], path: str = "/v1/events") -> None:
    key = "secret" if path == "/v1/traces" else "public"
    field = "traces" if path == "/v1/traces" else "events"
    for start in range(0, len(items), 40):
        response = pipeline.post(path, {field: items[start : start + 40]}, key=key)
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == len(items[start : start + 40])


@pytest.mark.kafka
def test_current_opinions_count_once_through_changes_of_mind_take_backs_and_late_traces(
    pipeline: RunningPipeline,
) -> None:
    scenario = Scenario(seed=11)
    half = len(scenario.traces) // 2
    _post_all(pipeline, scenario.traces[:half], "/v1/traces")  # the other half arrives late
    _post_all(pipeline, scenario.events)
    _post_all(pipeline, scenario.events[: len(scenario.events) // 3])  # a client resends a part
    ids = [item["event_id"] for item in scenario.events]
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id IN {ids:Array(String)}", len(ids), ids=ids)
    _post_all(pipeline, scenario.traces[half:], "/v1/traces")
    wait_for(
        lambda: (
            pipeline.rows("SELECT count() FROM events WHERE event_id IN {ids:Array(String)} AND trace_joined", ids=ids)
            == [(len(ids),)]
        ),
        30,
        what="every event joined",
    )

    model = scenario.model
    expected = scenario.quality()
    assert expected, "the scenario has opinions"
    assert pipeline.rows(QUALITY_FROM_EVENTS, model=model) == expected
    wait_for(lambda: pipeline.rows(QUALITY_TABLE, model=model) == expected, 30, what="quality_hourly")
    assert pipeline.rows(REASONS_FROM_EVENTS, model=model) == scenario.reasons()
    assert pipeline.rows(REASONS_TABLE, model=model) == scenario.reasons()
    assert pipeline.rows(RATINGS_TABLE, messages=scenario.messages) == scenario.ratings()
    kinds = {row[1] for row in scenario.ratings()}
    assert kinds == {"user", "session", "anonymous", "event"}
    # nothing is left counted under the dimensions the unjoined opinions had before their trace came
    stale = pipeline.rows(
        "SELECT sum(sign) FROM opinions_log WHERE message_id IN {m:Array(String)} AND model IS NULL",
        m=scenario.messages,
    )
    assert stale == [(0,)]


@pytest.mark.kafka
def test_a_change_of_mind_moves_the_count_and_a_take_back_removes_it(pipeline: RunningPipeline) -> None:
    conversation, trace_id, message = new_id("conv-"), new_id("trace-"), new_id("msg-")
    model = new_id("op-model-")
    assert pipeline.post("/v1/traces", trace(trace_id, conversation, model=model), key="secret").status_code == 202
    now = int(time.time() * 1000)
    common = {"conversation_id": conversation, "trace_id": trace_id, "message_id": message, "user_id": None}

    def counts() -> list[tuple[Any, ...]]:
        return pipeline.rows(
            "SELECT sum(thumbs_up), sum(thumbs_down), sum(ratings), sum(rating_sum) FROM quality_hourly "
            "WHERE model = {m:String}",
            m=model,
        )

    up = event("thumbs", value="up", reasons=[], timestamp=now - 3000, anonymous_id="browser-1", **common)
    other = event("thumbs", value="up", reasons=[], timestamp=now - 3000, anonymous_id="browser-2", **common)
    rating = event("rating", value=4, timestamp=now - 2500, anonymous_id="browser-1", **common)
    assert pipeline.post("/v1/events", {"events": [up, other, rating]}).status_code == 202
    wait_for(lambda: counts() == [(2, 0, 1, 4)], 30, what="two anonymous raters, a thumb and a rating")

    down = event(
        "thumbs", value="down", reasons=["incorrect"], timestamp=now - 2000, anonymous_id="browser-1", **common
    )
    assert pipeline.post("/v1/events", down).status_code == 202
    wait_for(lambda: counts() == [(1, 1, 1, 4)], 30, what="the change of mind moved the count")

    take_back = event("thumbs", value="none", reasons=[], timestamp=now - 1000, anonymous_id="browser-1", **common)
    assert pipeline.post("/v1/events", take_back).status_code == 202
    wait_for(lambda: counts() == [(1, 0, 1, 4)], 30, what="the take-back removed the thumb, not the rating")

    # an older thumb arriving late stays behind the take-back
    late = event("thumbs", value="down", reasons=[], timestamp=now - 1500, anonymous_id="browser-1", **common)
    assert pipeline.post("/v1/events", late).status_code == 202
    # a later rating by a third browser (same conversation: same partition, so it is stored after)
    marker = event("rating", value=1, timestamp=now - 500, anonymous_id="browser-3", **common)
    assert pipeline.post("/v1/events", marker).status_code == 202
    wait_for(lambda: counts() == [(1, 0, 2, 5)], 30, what="the late thumb ignored, the marker counted")
    assert pipeline.rows(
        "SELECT rater_kind, rater, thumb, rating FROM ratings_current WHERE message_id = {m:String} ORDER BY rater",
        m=message,
    ) == [
        ("anonymous", "browser-1", "none", 4),
        ("anonymous", "browser-2", "up", None),
        ("anonymous", "browser-3", None, 1),
    ]


def _framed(items: list[dict[str, Any]]) -> list[Framed]:
    received = int(time.time() * 1000)
    encoder, decoder = AvroEncoder("event"), AvroDecoder("event")
    out = []
    for record in accept_events(items, None, "acme", received).records:
        payload = encoder.encode(record)
        writer, start = decoder.writer_of(payload)
        out.append(Framed(writer, payload[start:]))
    return out


def _stored_without_opinions(
    base_settings: Settings, opinions: list[tuple[str, Any, list[str] | None, int]]
) -> tuple[str, Any, ClickHouseStore, list[dict[str, Any]], list[dict[str, Any]]]:
    """A new database holding one rater's events on one message (type, value, reasons, ms ago) in events_log
    and none of their opinions yet: the database, its client and store, the items and their records."""
    db = f"opinions_{new_id()}"
    client = base_settings.clickhouse().connect()
    migrate(client, db)
    store = ClickHouseStore(client, db)
    now = int(time.time() * 1000)
    common = {"message_id": new_id("msg-"), "user_id": "crash-user"}
    items = [
        event(kind, value=value, timestamp=now - ago, **({} if reasons is None else {"reasons": reasons}), **common)
        for kind, value, reasons, ago in opinions
    ]
    records = accept_events(items, None, "acme", now).records
    store.insert_events([event_row(record, None) for record in records])
    return db, client, store, items, records


@pytest.mark.parametrize("path", ["fast", "slow"])
def test_a_crash_between_the_event_insert_and_the_opinions_is_mended_by_the_re_read(
    base_settings: Settings, path: str
) -> None:
    """The worker writes events_log, then opinions_log: killed in between, the batch is read again;
    its events are dropped as stored, and the opinions are written, once, however often it is read."""
    # the events are stored, then the worker dies before writing the opinions
    db, client, store, items, records = _stored_without_opinions(
        base_settings, [("thumbs", "down", ["slow"], 2000), ("thumbs", "up", [], 1000), ("rating", 3, None, 1000)]
    )
    counts = "SELECT sum(thumbs_up), sum(thumbs_down), sum(ratings) FROM {db}.quality_hourly"
    assert client.query(counts.format(db=db)).result_rows == [(0, 0, 0)]
    for _ in range(2):  # read again after the crash, then once more (a replay)
        if path == "fast":
            BulkEventWriter(client, db).write(_framed(items))
        else:
            store.record_opinions((record["tenant_id"], record["event_id"]) for record in records)
        assert client.query(counts.format(db=db)).result_rows == [(1, 0, 1)]
    assert client.query(f"SELECT count(), sum(sign) FROM {db}.opinions_log").result_rows == [(2, 2)]


RATED_MESSAGES = 34  # sql/0034_rated_messages.sql


@pytest.mark.parametrize("path", ["fast", "slow"])
def test_a_crash_between_marking_the_messages_rated_and_their_opinions_is_mended_by_the_re_read(
    base_settings: Settings, path: str
) -> None:
    """A batch's messages go to rated_messages before their opinions: killed in between, the batch
    read again looks the (now marked) messages up in opinions_log, finds nothing, and records them once."""
    db, client, store, items, records = _stored_without_opinions(
        base_settings, [("thumbs", "down", ["slow"], 2000), ("rating", 4, None, 1000)]
    )
    *before_opinions, _ = record_statements(db, f"(SELECT tenant_id, event_id FROM {db}.events_log)")
    for statement in before_opinions:  # the messages are marked rated, then the worker dies
        client.command(statement)
    assert client.query(f"SELECT count() FROM {db}.rated_messages").result_rows == [(1,)]
    counts = f"SELECT sum(thumbs_up), sum(thumbs_down), sum(ratings) FROM {db}.quality_hourly"
    assert client.query(counts).result_rows == [(0, 0, 0)]
    for _ in range(2):  # read again after the crash, then once more (a replay)
        if path == "fast":
            BulkEventWriter(client, db).write(_framed(items))
        else:
            store.record_opinions((record["tenant_id"], record["event_id"]) for record in records)
        assert client.query(counts).result_rows == [(0, 1, 1)]


def test_opinions_stored_before_rated_messages_existed_are_found_after_the_upgrade(base_settings: Settings) -> None:
    """The migration marks every message that has an opinion: a change of mind after the upgrade
    replaces the opinion stored before it instead of counting beside it."""
    db = f"opinions_{new_id()}"
    client = base_settings.clickhouse().connect()
    migrate(client, db, migrations=[m for m in bundled_migrations() if m.version != RATED_MESSAGES])
    now = int(time.time() * 1000)
    common = {"message_id": new_id("msg-"), "user_id": "upgrading-user"}
    first = [event("thumbs", value="up", reasons=[], timestamp=now - 5000, **common)]
    ClickHouseStore(client, db).insert_events(
        [event_row(r, None) for r in accept_events(first, None, "acme", now).records]
    )
    for statement in record_statements(db, f"(SELECT tenant_id, event_id FROM {db}.events_log)", rated=False):
        client.command(statement)  # what the worker did before the upgrade
    counts = f"SELECT sum(thumbs_up), sum(thumbs_down) FROM {db}.quality_hourly"
    assert client.query(counts).result_rows == [(1, 0)]

    migrate(client, db)  # the upgrade
    BulkEventWriter(client, db).write(
        _framed([event("thumbs", value="down", reasons=["slow"], timestamp=now, **common)])
    )
    assert client.query(counts).result_rows == [(0, 1)]
