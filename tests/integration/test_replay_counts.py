"""A replay reports what it did, the same true numbers on the fast (SQL) and the slow (one by one)
paths: events and traces stored, duplicates, invalid, events rejoined; the worker's metrics move
by as much."""

from __future__ import annotations

import re

import pytest
from prometheus_client import REGISTRY

from consumers.batch import Batch
from consumers.events_step import Events
from consumers.outcome import Outcome
from consumers.step import FastPathStep
from runtime.kafka import ensure_topics
from runtime.settings import Settings
from tests.helpers import event, new_id, trace
from tests.integration.kafka_tools import produce_items, produce_raw
from tests.integration.test_replay_and_dlq import cli

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

METRICS = {
    "events": ("feedback_worker_inserted_rows_total", {"table": "events"}),
    "traces": ("feedback_worker_inserted_rows_total", {"table": "traces"}),
    "duplicates": ("feedback_worker_duplicates_total", {}),
    "rejoined": ("feedback_worker_rejoined_total", {}),
}
SUMMARY = re.compile(
    r"(?P<topic>\S+): read (?P<read>\d+), stored (?P<stored>\d+) new, (?P<duplicates>\d+) already stored, "
    r"(?P<invalid>\d+) invalid(?:, (?P<rejoined>\d+) stored event\(s\) joined to their trace)?"
)


def metrics() -> dict[str, float]:
    return {name: REGISTRY.get_sample_value(metric, labels) or 0.0 for name, (metric, labels) in METRICS.items()}


def replay(settings: Settings, database: str) -> dict[str, dict[str, int]]:
    """``feedback replay`` of the events, then the traces (so the events wait for their traces)."""
    output = cli(settings, "replay", "--topic", "explicit,traces", "--from", "0", "--database", database)
    lines = {}
    for line in output.splitlines():
        found = SUMMARY.search(line)
        if found:
            topic = found["topic"].rsplit(".", 1)[-1]
            lines[topic] = {k: int(v or 0) for k, v in found.groupdict().items() if k != "topic"}
    assert set(lines) == {"explicit", "traces"}, output
    return lines


@pytest.fixture
def slice_settings(kafka_settings: Settings) -> Settings:
    """Topics of their own holding: 4 thumbs (2 of them sent twice, 1 undecodable message), and
    the traces of 3 of them, one reported twice with the same content."""
    settings = kafka_settings.model_copy(update={"topic_prefix": f"counts-{new_id()}."})
    ensure_topics(settings)
    conversation = new_id("conv-")
    trace_ids = [new_id("trace-") for _ in range(3)]
    thumbs = [event("thumbs", conversation_id=conversation, trace_id=trace_ids[i % 3], value="down") for i in range(4)]
    produce_items(settings, thumbs, [])
    produce_items(settings, thumbs[:2], [])  # resent: duplicates
    produce_raw(settings, settings.topic("explicit"), b"not avro", f"acme/{conversation}".encode())
    reports = [trace(trace_id, conversation, model="m1") for trace_id in trace_ids]
    produce_items(settings, [], reports)
    produce_items(settings, [], reports[:1])  # the same report again (received later: a newer version)
    return settings


@pytest.mark.parametrize("path", ["fast", "slow"])
def test_a_replay_reports_true_counts_on_both_paths(
    slice_settings: Settings, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_paths: list[int] = []
    if path == "slow":
        monkeypatch.setattr(FastPathStep, "_store_fast", lambda _step, _batch, _frames: "forced by the test")
    one_by_one = Events.one_by_one

    def counted(step: Events, batch: Batch) -> Outcome:
        slow_paths.append(1)
        return one_by_one(step, batch)

    monkeypatch.setattr(Events, "one_by_one", counted)
    database = f"counts_{new_id()}"
    before = metrics()

    first = replay(slice_settings, database)

    # the undecodable message alone is invalid; the batch's others take the fast path all the same
    assert first["explicit"] == {"read": 7, "stored": 4, "duplicates": 2, "invalid": 1, "rejoined": 0}
    # the trace reported twice: its later report replaces the first (a newer version), so both store
    assert first["traces"]["read"] == 4
    # (3 and 1 when both reports are in one batch, 4 and 0 when the later one comes in the next)
    assert first["traces"]["stored"] in (3, 4)
    assert first["traces"]["stored"] + first["traces"]["duplicates"] == 4
    assert first["traces"]["rejoined"] == 4  # every thumb waited for its trace
    after = metrics()
    assert after["events"] - before["events"] == 4
    assert after["traces"] - before["traces"] == first["traces"]["stored"]
    assert after["duplicates"] - before["duplicates"] == 2 + first["traces"]["duplicates"]
    assert after["rejoined"] - before["rejoined"] == 4

    again = replay(slice_settings, database)
    assert again["explicit"] == {"read": 7, "stored": 0, "duplicates": 6, "invalid": 1, "rejoined": 0}
    assert again["traces"] == {"read": 4, "stored": 0, "duplicates": 4, "invalid": 0, "rejoined": 0}
    assert bool(slow_paths) == (path == "slow")
