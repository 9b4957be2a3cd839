"""Privacy (issue 17): a user erased on request is gone from every table, every count is fixed, and
nothing brings them back — not the live workers reading their old messages, not a replay of the
topics from the beginning. Through real Kafka and the real ClickHouse engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from annotation.candidates import item_id_of
from consumers.store import ClickHouseStore
from feedback.erasure import Eraser
from runtime.personal_data import EVAL_ITEM_ID
from runtime.settings import Settings
from tests.helpers import event, new_id, trace
from tests.integration.conftest import RunningPipeline
from tests.integration.test_replay_and_dlq import caught_up, cli

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

# Every table and view a user's data can be in, and how to find it by the test's ids.
BY_CONVERSATION = {
    "events_log": "conversation_id",
    "events": "conversation_id",
    "traces_log": "conversation_id",
    "traces": "conversation_id",
    "opinions_log": "conversation_id",
    "response_signals": "conversation_id",
    "response_scores": "conversation_id",
}
BY_MESSAGE = {"ratings_current": "message_id"}
# the hourly views: the test's traces carry a feature of their own
BY_FEATURE = ("quality_hourly", "reasons_hourly", "quality_scores_hourly")


def conversation_of(pipeline: RunningPipeline, user: str, feature: str, anonymous: str) -> dict[str, Any]:
    """One conversation of ``user``: two responses with their traces, each thumbed (with a reason),
    rated, copied and commented; and a signal of a browser without a user id in it."""
    conversation = new_id("conv-")
    messages, events = [], []
    for _ in range(2):
        trace_id, message = new_id("trace-"), new_id("msg-")
        messages.append(message)
        posted = pipeline.post("/v1/traces", trace(trace_id, conversation, feature=feature, user_id=user), key="secret")
        assert posted.status_code == 202, posted.text
        ids = {"conversation_id": conversation, "trace_id": trace_id, "message_id": message, "user_id": user}
        events += [
            event("thumbs", value="down", reasons=["slow"], **ids),
            event("rating", value=2, **ids),
            event("copy", **ids),
            event("comment", comment=f"about {user}", **ids),
        ]
    # the same browser before signing in: no user_id, but in this conversation
    events.append(
        event(
            "thumbs",
            value="up",
            reasons=["clear"],
            conversation_id=conversation,
            trace_id=events[0]["trace_id"],
            message_id=messages[0],
            user_id=None,
            anonymous_id=anonymous,
        )
    )
    response = pipeline.post("/v1/events", {"events": events})
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == len(events), response.text
    return {"conversation": conversation, "messages": messages, "events": events}


def rows_of(pipeline: RunningPipeline, conversations: list[str], messages: list[str]) -> dict[str, int]:
    counts = {
        table: pipeline.rows(f"SELECT countIf({column} IN {{ids:Array(String)}}) FROM {table}", ids=conversations)[0][0]
        for table, column in BY_CONVERSATION.items()
    }
    for table, column in BY_MESSAGE.items():
        counts[table] = pipeline.rows(f"SELECT countIf({column} IN {{ids:Array(String)}}) FROM {table}", ids=messages)[
            0
        ][0]
    return counts


def queue_and_label(pipeline: RunningPipeline, queue: str, data: dict[str, Any]) -> None:
    """Queue the conversation's first response for review (as ``feedback sample`` does) and label it
    through ``POST /v1/annotations``, with a note quoting the user."""
    trace_id = data["events"][0]["trace_id"]
    item = item_id_of("acme", trace_id)
    pipeline.client.insert(
        "annotation_queue_log",
        [[
            "acme", queue, item, trace_id, data["messages"][0], data["conversation"], "random", "",
            datetime.now(UTC), "t",
        ]],
        column_names=[
            "tenant_id", "queue", "item_id", "trace_id", "message_id", "conversation_id", "strategy", "stratum",
            "added_at", "run_id",
        ],
        database=pipeline.settings.clickhouse_database,
    )  # fmt: skip
    label = {"queue": queue, "item_id": item, "annotator": "ann", "label": "wrong", "note": "the user said ..."}
    answer = pipeline.post("/v1/annotations", {"annotations": [label]}, key="secret")
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1, answer.text


def test_the_sql_item_id_of_an_erased_response_is_the_one_reviewers_see(pipeline: RunningPipeline) -> None:
    sql = EVAL_ITEM_ID.format(tenant="{t:String}", trace="{r:String}")
    assert pipeline.rows(f"SELECT {sql}", t="acme", r="trace-1") == [(item_id_of("acme", "trace-1"),)]


def hourly(pipeline: RunningPipeline, feature: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: sorted(pipeline.rows(f"SELECT * FROM {table} WHERE feature = {{f:String}}", f=feature))
        for table in BY_FEATURE
    }


def test_forget_removes_the_user_everywhere_and_a_replay_never_brings_them_back(pipeline: RunningPipeline) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    gone, kept = new_id("user-gone-"), new_id("user-kept-")
    feature_gone, feature_kept = new_id("feature-"), new_id("feature-")
    gone_data = [conversation_of(pipeline, gone, feature_gone, new_id("anon-")) for _ in range(2)]
    kept_data = [conversation_of(pipeline, kept, feature_kept, new_id("anon-")) for _ in range(2)]
    caught_up(pipeline)
    gone_conversations = [c["conversation"] for c in gone_data]
    gone_messages = [m for c in gone_data for m in c["messages"]]
    kept_conversations = [c["conversation"] for c in kept_data]
    kept_messages = [m for c in kept_data for m in c["messages"]]
    before_gone = rows_of(pipeline, gone_conversations, gone_messages)
    assert all(before_gone.values()), before_gone
    kept_rows, kept_hourly = rows_of(pipeline, kept_conversations, kept_messages), hourly(pipeline, feature_kept)
    assert all(kept_hourly.values()), kept_hourly
    assert hourly(pipeline, feature_gone)["quality_hourly"]

    # a reviewer queued and labelled one response of each: the label of the erased user's goes
    queue = new_id("review-")
    for data in (gone_data[0], kept_data[0]):
        queue_and_label(pipeline, queue, data)
    labels = "SELECT count() FROM annotations_log WHERE queue = {q:String}"
    queued = "SELECT count() FROM annotation_queue WHERE queue = {q:String}"
    assert pipeline.rows(labels, q=queue) == pipeline.rows(queued, q=queue) == [(2,)]

    # an analyst key may not erase; the secret key of another tenant may not erase acme's users
    assert pipeline.post("/v1/forget", {"user": gone}, key="analyst").status_code == 403
    assert pipeline.post("/v1/forget", {"tenant": "acme", "user": gone}, key="other_secret").status_code == 403
    assert pipeline.post("/v1/forget", {}, key="secret").json() == {
        "error": "user: required, the user_id to erase (a non-empty string)"
    }
    response = pipeline.post("/v1/forget", {"user": gone}, key="secret")
    assert response.status_code == 200, response.text
    answer = response.json()
    # 2 conversations x (2 responses x 4 signals + 1 anonymous thumb); their 4 traces; the opinions
    # 2 x (2 x (thumb + rating) + the anonymous thumb)
    assert answer["removed"] == {"events": 18, "traces": 4, "annotations": 1, "queued": 1, "opinions": 10}, answer
    assert (answer["tenant"], answer["user"], answer["conversations"]) == ("acme", gone, 2)
    assert answer["requested_by"] == "secret:acme"

    def everything_gone() -> None:
        assert set(rows_of(pipeline, gone_conversations, gone_messages).values()) == {0}
        assert hourly(pipeline, feature_gone) == {table: [] for table in BY_FEATURE}
        assert pipeline.rows("SELECT count() FROM events WHERE user_id = {u:String}", u=gone) == [(0,)]
        assert pipeline.rows("SELECT count() FROM traces WHERE user_id = {u:String}", u=gone) == [(0,)]
        # and the other user's data is exactly as it was: nothing lost, nothing counted twice
        assert rows_of(pipeline, kept_conversations, kept_messages) == kept_rows
        assert hourly(pipeline, feature_kept) == kept_hourly
        assert pipeline.rows(labels, q=queue) == pipeline.rows(queued, q=queue) == [(1,)]

    everything_gone()
    recorded = pipeline.rows(
        "SELECT requested_by, removed, conversations FROM erasures WHERE tenant_id = 'acme' AND user_id = {u:String}",
        u=gone,
    )
    assert recorded == [("secret:acme", {"events": 18, "traces": 4, "annotations": 1, "queued": 1, "opinions": 10}, 2)]

    # the live workers read the user's old messages again (a client resending, a DLQ redrive):
    # dropped, not stored, not dead-lettered
    old = gone_data[0]
    assert pipeline.post("/v1/events", {"events": old["events"]}).json()["accepted"] == len(old["events"])
    first = old["events"][0]
    resent = trace(first["trace_id"], old["conversation"], feature=feature_gone)  # no user_id: its conversation
    assert pipeline.post("/v1/traces", resent, key="secret").status_code == 202
    caught_up(pipeline)
    everything_gone()

    # a replay of every topic from before the test: the other user's counts do not move, the
    # erased user stays gone
    output = cli(pipeline.settings, "replay", "--topic", "traces,explicit,implicit", "--from", started.isoformat())
    assert "of erased users dropped" in output, output
    everything_gone()
    # a rejoin sweep finds nothing of them to mend either
    assert pipeline.post("/v1/rejoin", {}, key="admin").status_code == 200
    everything_gone()

    # and a replay that rebuilds another database carries the erasures over
    rebuilt = f"rebuild_{new_id()}"
    cli(pipeline.settings, "replay", "--topic", "traces,explicit,implicit", "--from", started.isoformat(),
        "--database", rebuilt)  # fmt: skip
    assert pipeline.rows(
        f"SELECT count() FROM {rebuilt}.events WHERE conversation_id IN {{ids:Array(String)}}", ids=gone_conversations
    ) == [(0,)]
    assert pipeline.rows(
        f"SELECT count() FROM {rebuilt}.events WHERE conversation_id IN {{ids:Array(String)}}", ids=kept_conversations
    ) == [(kept_rows["events"],)]


def test_feedback_forget_on_the_command_line(pipeline: RunningPipeline) -> None:
    user = new_id("user-cli-")
    data = conversation_of(pipeline, user, new_id("feature-"), new_id("anon-"))
    caught_up(pipeline)
    output = cli(pipeline.settings, "forget", "--tenant", "acme", "--user", user, "--format", "json")
    answer = json.loads(output)
    assert answer["removed"] == {"events": 9, "traces": 2, "annotations": 0, "queued": 0, "opinions": 5}, answer
    assert answer["requested_by"].startswith("cli:")
    assert set(rows_of(pipeline, [data["conversation"]], data["messages"]).values()) == {0}
    # forgetting again finds nothing more, and says so
    table = cli(pipeline.settings, "forget", "--tenant", "acme", "--user", user)
    assert "erased user" in table
    assert "1 conversation(s)" in table


class LateWriter:
    """A client whose first removal from events_log is followed by a row of the user landing, as a
    worker of another process would store a batch it staged before the erasure began."""

    def __init__(self, client: Client, late_row: str) -> None:
        self._client = client
        self._late_row = late_row

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.query(*args, **kwargs)

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.insert(*args, **kwargs)

    def command(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        result = self._client.command(sql, *args, **kwargs)
        if sql.startswith("ALTER TABLE") and "events_log DELETE" in sql and self._late_row:
            self._client.command(self._late_row)
            self._late_row = ""
        return result


@pytest.mark.clickhouse
def test_rows_other_processes_store_during_the_erasure_are_removed_too(
    clickhouse: Client, base_settings: Settings
) -> None:
    database, user = base_settings.clickhouse_database, new_id("user-late-")
    insert = (
        f"INSERT INTO {database}.events_log (tenant_id, event_id, type, timestamp, received_at, ts, conversation_id, "
        "trace_id, message_id, user_id, reasons, trace_joined, version, sign) "
        "VALUES ('privacy-late', {id:String}, 'copy', now64(), now64(), now64(), {c:String}, NULL, 'm', {u:String}, "
        "[], 0, 1, 1)"
    )
    conversation = new_id("conv-")
    clickhouse.command(insert, parameters={"id": new_id(), "c": conversation, "u": user})
    late_row = insert.replace("{id:String}", f"'{new_id()}'").replace("{c:String}", f"'{conversation}'")
    late_row = late_row.replace("{u:String}", f"'{user}'")
    eraser = Eraser(LateWriter(clickhouse, late_row), database, settle_s=0.01)  # type: ignore[arg-type]
    erasure = eraser.forget("privacy-late", user, "test")
    assert erasure.removed["events"] == 2  # the one stored before, and the one that landed after
    left = clickhouse.query(
        f"SELECT count() FROM {database}.events_log WHERE conversation_id = {{c:String}}",
        parameters={"c": conversation},
    )
    assert left.result_rows == [(0,)]


@pytest.mark.clickhouse
def test_the_slow_path_drops_records_of_erased_users_too(clickhouse: Client, base_settings: Settings) -> None:
    database, user, conversation = base_settings.clickhouse_database, new_id("user-slow-"), new_id("conv-")
    now = datetime.now(UTC)
    clickhouse.insert(
        f"{database}.erased_ids",
        [["privacy-slow", "user", user, user, now], ["privacy-slow", "conversation", conversation, user, now]],
        column_names=["tenant_id", "kind", "id", "user_id", "requested_at"],
    )
    records: list[dict[str, Any]] = [
        {"tenant_id": "privacy-slow", "user_id": user, "conversation_id": new_id("conv-"), "trace_id": None},
        {"tenant_id": "privacy-slow", "user_id": None, "conversation_id": conversation, "trace_id": "t"},
        {"tenant_id": "privacy-slow", "user_id": "someone-else", "conversation_id": new_id("conv-"), "trace_id": "t"},
        {"tenant_id": "other-tenant", "user_id": user, "conversation_id": conversation, "trace_id": None},
    ]
    kept = ClickHouseStore(clickhouse, database).without_erased(records)
    assert kept == records[2:]
