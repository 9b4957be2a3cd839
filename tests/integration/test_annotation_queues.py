"""Annotation queues through the real pipeline (collector → Kafka → worker → ClickHouse): a corpus
of three features of very different volume, one failure repeated over and over, and responses
nobody flagged. ``stratified`` covers all three features, ``cluster`` keeps the repeated failure
to its share, ``random`` reaches unflagged responses, and labels go in (HTTP and file), come out
(annotate export, status, the eval export) with the latest label per item and annotator."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from annotation.candidates import item_id_of
from annotation.export import export_queue
from annotation.sampling import QUEUE_COLUMNS, SampleRequest, SampleResult, Strategy, sample
from annotation.status import status
from exports.filters import ExportFilters
from exports.rows import Kind
from feedback.annotation_import import collector_sender, import_file
from feedback.cli import app
from feedback.export_endpoint import ExportRequest
from feedback.exporting import run_export
from tests.conftest import KEYS
from tests.helpers import event, new_id, trace
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

TENANT = "hooli"
KEY = "hooli_secret"
VOCABULARY = (
    "invoice refund shipping parcel warehouse tracking coupon loyalty password login avatar profile calendar "
    "meeting reminder timezone recipe oven flour yeast garden tomato compost hiking trail glacier violin concert "
    "ticket seat football penalty referee galaxy telescope orbit comet mortgage interest pension taxes vaccine "
    "allergy dentist molar kernel compiler pointer thread lantern harbor"
)
WORDS = VOCABULARY.split()
REPEATED = "Sorry, the search backend timed out before answering. Please try again in a few minutes."
# feature: (flagged distinct failures, unflagged responses); search also has the repeated failure
VOLUMES = {"search": (15, 60), "chat": (8, 20), "billing": (3, 5)}
REPEATS = 40


@dataclass
class Corpus:
    repeated: set[str]  # trace ids of the repeated failure
    flagged: set[str]
    unflagged: set[str]
    feature_of: dict[str, str]


def _words(rng: random.Random) -> str:
    return " ".join(rng.sample(WORDS, 9))


@pytest.fixture(scope="module")
def corpus(_pipeline: RunningPipeline) -> Corpus:
    pipeline, rng = _pipeline, random.Random(14)
    traces: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    found = Corpus(set(), set(), set(), {})
    now = int(time.time() * 1000)

    def response(feature: str, question: str, answer: str, flag: str | None) -> str:
        conversation, trace_id = new_id("conv-"), new_id("tr-")
        traces.append(
            trace(trace_id, conversation, message_id=f"m-{trace_id}", feature=feature, input_text=question,
                  output_text=answer, timestamp=now - 60_000)
        )  # fmt: skip
        found.feature_of[trace_id] = feature
        if flag == "down":
            events.append(event("thumbs", conversation_id=conversation, trace_id=trace_id, message_id=f"m-{trace_id}",
                                user_id=f"u-{trace_id}", timestamp=now))  # fmt: skip
        elif flag == "regenerate":
            events.append(event("regenerate", conversation_id=conversation, trace_id=trace_id,
                                message_id=f"m-{trace_id}", user_id=f"u-{trace_id}", timestamp=now))  # fmt: skip
        elif flag == "up":
            events.append(event("thumbs", conversation_id=conversation, trace_id=trace_id, message_id=f"m-{trace_id}",
                                value="up", reasons=["useful"], user_id=f"u-{trace_id}", timestamp=now))  # fmt: skip
        (found.flagged if flag in ("down", "regenerate") else found.unflagged).add(trace_id)
        return trace_id

    for n in range(REPEATS):
        found.repeated.add(response("search", f"find the order number {1000 + n}", REPEATED, "down"))
    for feature, (flagged, unflagged) in VOLUMES.items():
        for n in range(flagged):
            response(feature, _words(rng), _words(rng), "down" if n % 2 else "regenerate")
        for n in range(unflagged):
            response(feature, _words(rng), _words(rng), "up" if n % 3 == 0 else None)
    for start in range(0, len(traces), 500):
        sent = pipeline.post("/v1/traces", {"traces": traces[start : start + 500]}, key=KEY)
        assert sent.status_code == 202, sent.text
    sent = pipeline.post("/v1/events", {"events": events}, key=KEY)
    assert sent.status_code == 202, sent.text
    assert sent.json()["rejected"] == []
    pipeline.wait_rows("SELECT 1 FROM traces WHERE tenant_id = {t:String}", len(traces), t=TENANT)
    pipeline.wait_rows("SELECT 1 FROM events WHERE tenant_id = {t:String}", len(events), t=TENANT)
    return found


def _sample(pipeline: RunningPipeline, queue: str, size: int, strategy: Strategy, **options: Any) -> SampleResult:
    return sample(pipeline.client, SampleRequest(queue=queue, size=size, strategy=strategy, tenant=TENANT, **options))


def _queued(pipeline: RunningPipeline, queue: str) -> list[tuple[Any, ...]]:
    return pipeline.rows(
        "SELECT trace_id, strategy, stratum FROM annotation_queue WHERE tenant_id = {t:String} AND queue = {q:String}",
        t=TENANT,
        q=queue,
    )


def test_stratified_covers_every_feature_never_twice_and_deterministic(
    pipeline: RunningPipeline, corpus: Corpus
) -> None:
    first = _sample(pipeline, "by-feature", 12, Strategy.STRATIFIED, seed=3)
    counts = {s.name: s.picked for s in first.strata}
    assert counts["feature=billing"] == 3  # all it has
    assert counts["feature=chat"] + counts["feature=search"] == 9
    assert min(counts["feature=chat"], counts["feature=search"]) == 4
    assert {corpus.feature_of[p.candidate.trace_id] for p in first.picks} == {"search", "chat", "billing"}
    assert {p.candidate.trace_id for p in first.picks} <= corpus.flagged

    same = _sample(pipeline, "by-feature-again", 12, Strategy.STRATIFIED, seed=3)
    assert [p.candidate.item_id for p in same.picks] == [p.candidate.item_id for p in first.picks]

    second = _sample(pipeline, "by-feature", 12, Strategy.STRATIFIED, seed=3)
    assert {p.candidate.trace_id for p in second.picks}.isdisjoint(p.candidate.trace_id for p in first.picks)
    assert "feature=billing" not in {s.name for s in second.strata}  # no candidate left there
    queued = _queued(pipeline, "by-feature")
    assert len(queued) == len({row[0] for row in queued}) == 24
    assert {row[2] for row in queued} == {"feature=search", "feature=chat", "feature=billing"}


def test_two_runs_racing_on_one_queue_still_show_each_item_once(pipeline: RunningPipeline, corpus: Corpus) -> None:
    first = _sample(pipeline, "raced", 4, Strategy.STRATIFIED, seed=2)
    # the other run read the queue before this one wrote: it queued the same items too
    rows = pipeline.rows(
        "SELECT tenant_id, queue, item_id, trace_id, message_id, conversation_id, strategy, stratum, added_at "
        "FROM annotation_queue_log WHERE tenant_id = {t:String} AND queue = 'raced'",
        t=TENANT,
    )
    late = [[*row[:8], row[8] + timedelta(seconds=1), "zz-other-run"] for row in rows]
    pipeline.client.insert("annotation_queue_log", late, column_names=[*QUEUE_COLUMNS])
    queued = pipeline.rows(
        "SELECT item_id, run_id FROM annotation_queue WHERE tenant_id = {t:String} AND queue = 'raced'", t=TENANT
    )
    assert sorted(item for item, _ in queued) == sorted(p.candidate.item_id for p in first.picks)
    assert {run for _, run in queued} == {first.run_id}  # the first row wins
    (raced,) = status(pipeline.client, TENANT, "raced")
    assert raced.queued == 4


def test_cluster_keeps_the_repeated_failure_to_its_share(pipeline: RunningPipeline, corpus: Corpus) -> None:
    result = _sample(pipeline, "clusters", 10, Strategy.CLUSTER, seed=1)
    assert len(result.picks) == 10
    biggest = result.strata[0]
    assert biggest.candidates == REPEATS  # the repeated failure is one cluster
    repeated = sum(p.candidate.trace_id in corpus.repeated for p in result.picks)
    assert repeated <= math.ceil(10 / len(result.strata))
    assert REPEATS / len(corpus.flagged) > 0.5  # while it is most of what was flagged
    stratified = _sample(pipeline, "by-feature-search", 10, Strategy.STRATIFIED, seed=1)
    novel = _sample(pipeline, "novel", 5, Strategy.NOVEL, seed=1)
    assert sum(p.candidate.trace_id in corpus.repeated for p in novel.picks) <= 1
    assert len(stratified.picks) == 10


def test_random_reaches_unflagged_responses_and_mixed_keeps_its_share(
    pipeline: RunningPipeline, corpus: Corpus
) -> None:
    drawn = _sample(pipeline, "uniform", 30, Strategy.RANDOM, seed=9)
    ids = {p.candidate.trace_id for p in drawn.picks}
    assert len(ids) == 30
    assert ids & corpus.unflagged
    assert ids <= corpus.unflagged | corpus.flagged
    mixed = _sample(pipeline, "mixed", 20, Strategy.MIXED, seed=9, random_share=0.25)
    strategies = [row[1] for row in _queued(pipeline, "mixed")]
    assert sorted(strategies) == ["random"] * 5 + ["stratified"] * 15
    assert len({p.candidate.trace_id for p in mixed.picks}) == 20


def test_labels_round_trip(
    pipeline: RunningPipeline, corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = "review"
    picked = _sample(pipeline, queue, 6, Strategy.STRATIFIED, seed=5).picks
    items = [p.candidate.item_id for p in picked]
    assert items[0] == item_id_of(TENANT, picked[0].candidate.trace_id)
    labels: list[dict[str, Any]] = [
        {"queue": queue, "item_id": items[0], "annotator": "ann", "label": "wrong",
         "timestamp": "2026-11-29T10:00:00Z"},
        {"queue": queue, "item_id": items[0], "annotator": "ann", "label": "hallucinated", "score": 1,
         "reasons": ["made up order"], "note": "see ticket", "timestamp": "2026-11-29T11:00:00Z"},
        {"queue": queue, "item_id": items[0], "annotator": "bob", "label": "hallucinated"},
        {"queue": queue, "item_id": items[1], "annotator": "ann", "label": "ok"},
        {"queue": queue, "item_id": items[1], "annotator": "bob", "label": "bad_tone"},
        {"queue": queue, "item_id": "not-queued", "annotator": "ann", "label": "ok"},
        {"queue": queue, "item_id": items[2], "annotator": "ann"},
    ]  # fmt: skip
    answer = pipeline.post("/v1/annotations", {"annotations": labels}, key=KEY)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 5
    assert answer.json()["rejected"] == [
        {"index": 5, "item_id": "not-queued", "errors": [f"item_id: not in queue {queue!r} of this tenant"]},
        {"index": 6, "item_id": items[2], "errors": ["label: required"]},
    ]
    other_tenant = pipeline.post("/v1/annotations", {"annotations": labels[3:4]}, key="other_secret")
    assert other_tenant.status_code == 400  # another tenant's queue holds nothing of this

    lines = [
        orjson.dumps({"queue": queue, "item_id": items[2], "annotator": "cy", "label": "ok"}),
        b"not json",
        orjson.dumps({"queue": queue, "item_id": items[0], "annotator": "cy", "label": "hallucinated"}),
    ]
    (tmp_path / "labels.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    settings = pipeline.settings
    env = {
        "FEEDBACK_CLICKHOUSE_URL": settings.clickhouse_url.get_secret_value(),
        "FEEDBACK_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "FEEDBACK_KEYS_FILE": str(settings.keys_file),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    imported = CliRunner().invoke(app, ["annotate", "import", str(tmp_path / "labels.jsonl"), "--tenant", TENANT])
    assert imported.exit_code == 1, imported.output
    assert "imported 2 label(s), refused 1" in imported.output
    assert "labels.jsonl:2: line: not JSON" in imported.output

    # the same file format through a running collector (what the command does while `feedback up`
    # owns the embedded engine)
    (tmp_path / "more.jsonl").write_bytes(
        orjson.dumps({"queue": queue, "item_id": items[2], "annotator": "dee", "label": "ok"})
        + b"\n\n"
        + orjson.dumps({"queue": queue, "item_id": "nope", "annotator": "dee", "label": "ok"})
        + b"\n"
    )
    remote = import_file(tmp_path / "more.jsonl", collector_sender(settings.http_addr, KEYS[KEY]))
    assert remote.accepted == 1
    assert [(r.index, r.errors) for r in remote.refused] == [
        (3, [f"item_id: not in queue {queue!r} of this tenant"])
    ]  # the line number, blank lines counted

    current = pipeline.rows(
        "SELECT item_id, annotator, label, score, reasons, note FROM annotations "
        "WHERE tenant_id = {t:String} AND queue = {q:String} ORDER BY item_id, annotator",
        t=TENANT,
        q=queue,
    )
    by_key = {(row[0], row[1]): row[2:] for row in current}
    assert len(current) == 7  # one per item and annotator: ann's first label was replaced
    assert by_key[(items[0], "ann")] == ("hallucinated", 1.0, ["made up order"], "see ticket")
    assert by_key[(items[1], "bob")][0] == "bad_tone"

    exported = {row["item_id"]: row for row in export_queue(pipeline.client, queue, TENANT)}
    assert set(exported) == set(items)
    first = exported[items[0]]
    assert first["input"]
    assert first["output"]
    assert first["lineage"]["trace_id"] == picked[0].candidate.trace_id
    assert first["signals"]["thumbs_down"] + first["signals"]["regenerates"] >= 1
    assert [(label["annotator"], label["label"]) for label in first["labels"]] == [
        ("ann", "hallucinated"), ("bob", "hallucinated"), ("cy", "hallucinated")
    ]  # fmt: skip
    assert exported[items[3]]["labels"] == []

    (review,) = status(pipeline.client, TENANT, queue)
    assert (review.queued, review.labelled, review.labels, review.annotators) == (6, 3, 7, 4)
    assert review.agreement.items == 3
    # items[0]: all three agree; items[1]: ann and bob differ; items[2]: cy and dee agree
    assert review.agreement.percent == pytest.approx(2 / 3, abs=1e-4)
    shown = CliRunner().invoke(app, ["annotate", "status", "--tenant", TENANT, "--queue", queue, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert orjson.loads(shown.output)[0]["labelled"] == 3

    out = tmp_path / "eval.jsonl"
    run_export(settings, ExportRequest(Kind.EVAL, ExportFilters(tenant=TENANT)), out, "jsonl", None, None)
    rows = {row["lineage"]["trace_id"]: row for row in map(orjson.loads, out.read_bytes().splitlines())}
    eval_labels = rows[picked[0].candidate.trace_id]["annotations"]
    assert [(a["queue"], a["annotator"], a["label"]) for a in eval_labels] == [
        (queue, "ann", "hallucinated"), (queue, "bob", "hallucinated"), (queue, "cy", "hallucinated")
    ]  # fmt: skip
    assert eval_labels[0]["time"] == "2026-11-29T11:00:00.000Z"
    assert rows[picked[0].candidate.trace_id]["id"] == items[0]  # the queue's item id is the eval row's id
    unlabelled = next(t for t in corpus.flagged if t not in {p.candidate.trace_id for p in picked})
    assert rows[unlabelled]["annotations"] == []
