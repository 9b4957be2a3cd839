"""``feedback export``: a corpus of downvotes, edits, regenerate attempts, take-backs and missing
texts goes through the real pipeline (collector → Kafka → worker → ClickHouse) and comes out as
exactly the expected eval, sft and dpo rows — here on the engine and through POST /v1/export."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from exports.filters import ExportFilters
from exports.rows import (
    CONFLICT,
    EDIT_EQUALS_OUTPUT,
    NO_OUTPUT,
    NO_TRACE,
    PROMPTS_DIFFER,
    SIDES_EQUAL,
    Kind,
)
from exports.writers import schema_of
from feedback.export_endpoint import ExportRequest
from feedback.exporting import run_export
from tests.helpers import event, new_id, trace
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

TENANT, OTHER = "initech", "umbrella"


@dataclass
class Corpus:
    conversation: str
    ids: dict[str, str]  # short name -> trace_id

    def name_of(self, trace_id: str) -> str:
        return next(name for name, value in self.ids.items() if value == trace_id)


# name: (turn, input_text, output_text); a missing text is None
TRACES: dict[str, tuple[str, str | None, str | None]] = {
    "A1": ("turn-a", "q-a", "a1 bad"),
    "A2": ("turn-a", "q-a", "a2 good"),
    "B": ("turn-b", "q-b", "b out"),
    "C": ("turn-c", "q-c", "c out"),
    "D": ("turn-d", "q-d", None),
    "E1": ("turn-e", "q-e", "e1"),
    "E2": ("turn-e", "q-e", "e2"),
    "E3": ("turn-e", "q-e", "e3"),
    "F1": ("turn-f", "q-f", "f1"),
    "F2": ("turn-f", "q-f", "f2"),
    "G1": ("turn-g", "q-g", "g1"),
    "G2": ("turn-g", "q-g", "g2"),
    "H1": ("turn-h", "q-h", "h1"),
    "H2": ("turn-h", "q-h reworded", "h2"),
    "I1": ("turn-i", "q-i", "same"),
    "I2": ("turn-i", "q-i", "same"),
    "J": ("turn-j", "q-j", "j out"),
    "K": ("turn-k", "q-k", "k out"),
}

# (trace name, type, fields); in time order. "Z" is a trace that is never reported.
SIGNALS: list[tuple[str, str, dict[str, Any]]] = [
    ("A1", "thumbs", {"value": "down", "reasons": ["hallucinated"], "comment": "wrong", "user_id": "u1"}),
    ("A1", "regenerate", {"attempt": 2, "user_id": "u1"}),
    ("A2", "thumbs", {"value": "up", "reasons": ["useful"], "user_id": "u1"}),
    ("B", "copy", {"copied_chars": 5, "user_id": "u2"}),
    ("B", "edit", {"edited_text": "b fixed", "edit_distance": 3, "user_id": "u2"}),
    ("C", "thumbs", {"value": "down", "user_id": "u1"}),
    ("C", "thumbs", {"value": "none", "reasons": [], "user_id": "u1"}),  # takes the down back
    ("C", "rating", {"value": 5, "user_id": None, "session_id": "s-9"}),  # a rater by session
    ("D", "thumbs", {"value": "down", "user_id": "u1"}),
    ("Z", "thumbs", {"value": "down", "user_id": "u1"}),
    ("E1", "thumbs", {"value": "up", "reasons": [], "user_id": "u1"}),
    ("E1", "thumbs", {"value": "down", "reasons": ["too_long"], "user_id": "u2"}),  # a tie: no verdict
    ("E2", "thumbs", {"value": "down", "reasons": [], "user_id": "u1"}),
    ("E3", "thumbs", {"value": "up", "reasons": [], "user_id": "u1"}),
    ("E3", "thumbs", {"value": "up", "reasons": [], "user_id": "u2"}),
    ("E3", "thumbs", {"value": "down", "reasons": [], "user_id": "u3"}),  # majority up
    ("F1", "thumbs", {"value": "up", "reasons": [], "user_id": "u1"}),
    ("F1", "rating", {"value": 1, "user_id": "u2"}),
    ("F2", "thumbs", {"value": "down", "reasons": [], "user_id": "u1"}),
    ("F2", "rating", {"value": 5, "user_id": "u2"}),  # thumbs and ratings disagree: no pair
    ("G1", "rating", {"value": 5, "user_id": "u1"}),
    ("G2", "rating", {"value": 2, "user_id": "u1"}),
    ("H1", "thumbs", {"value": "up", "reasons": [], "user_id": "u1"}),
    ("H2", "thumbs", {"value": "down", "reasons": [], "user_id": "u1"}),
    ("I1", "thumbs", {"value": "up", "reasons": [], "user_id": "u1"}),
    ("I2", "thumbs", {"value": "down", "reasons": [], "user_id": "u1"}),
    ("J", "edit", {"edited_text": "j out", "user_id": "u1"}),
    ("K", "rephrase", {"user_id": "u1"}),
]

# what each kind must give, in order (trace names), and what it must skip
EVAL = ["A1", "B", "E1", "E2", "E3", "F1", "F2", "G2", "H2", "I2", "J", "K"]
EVAL_SKIPPED = {NO_OUTPUT: 1, NO_TRACE: 1}
SFT = [
    ("A2", "a2 good", "rated_up"),
    ("B", "b fixed", "edit"),
    ("C", "c out", "rated_up"),
    ("G1", "g1", "rated_up"),
    ("H1", "h1", "rated_up"),
    ("I1", "same", "rated_up"),
    ("J", "j out", "edit"),
]
DPO = [("A2", "A1", "regenerate"), ("B", "B", "edit"), ("E3", "E2", "regenerate"), ("G1", "G2", "regenerate")]
DPO_SKIPPED = {CONFLICT: 1, EDIT_EQUALS_OUTPUT: 1, NO_TRACE: 1, PROMPTS_DIFFER: 1, SIDES_EQUAL: 1}


@pytest.fixture(scope="module")
def corpus(_pipeline: RunningPipeline) -> Corpus:
    pipeline = _pipeline
    conversation = new_id("conv-")
    ids = {name: new_id(f"{name}-") for name in [*TRACES, "Z"]}
    traces = [
        trace(
            ids[name],
            conversation,
            turn_id=turn,
            message_id=f"m-{ids[name]}",
            input_text=prompt,
            output_text=output,
            model_version="v-exp",
        )
        for name, (turn, prompt, output) in TRACES.items()
    ]
    for item in traces:  # the texts are optional: leave them out when None
        for field in ("input_text", "output_text"):
            if item[field] is None:
                del item[field]
    sent = pipeline.post("/v1/traces", {"traces": traces}, key="initech_secret")
    assert sent.status_code == 202, sent.text
    start = int(time.time() * 1000) - 60_000
    events = []
    for index, (name, kind, fields) in enumerate(SIGNALS):
        item = event(
            kind,
            conversation_id=conversation,
            trace_id=ids[name],
            message_id=f"m-{ids[name]}",
            timestamp=start + index * 10,
            **fields,
        )
        events.append({k: v for k, v in item.items() if v is not None})
    sent = pipeline.post("/v1/events", {"events": events}, key="initech_secret")
    assert sent.status_code == 202, sent.text
    assert sent.json()["rejected"] == []
    # another tenant: the same conversation and turn, an attempt that would pair with A1
    other = trace(new_id("X-"), conversation, turn_id="turn-a", input_text="q-a", output_text="x out")
    assert pipeline.post("/v1/traces", other, key="umbrella_secret").status_code == 202
    up = event("thumbs", conversation_id=conversation, trace_id=other["trace_id"], value="up", reasons=[])
    assert pipeline.post("/v1/events", up, key="umbrella_secret").status_code == 202

    pipeline.wait_rows(
        "SELECT 1 FROM events WHERE tenant_id = {t:String} AND conversation_id = {c:String}",
        len(SIGNALS),
        t=TENANT,
        c=conversation,
    )
    pipeline.wait_rows("SELECT 1 FROM traces WHERE tenant_id = {t:String}", len(TRACES), t=TENANT)
    pipeline.wait_rows("SELECT 1 FROM events WHERE tenant_id = {t:String}", 1, t=OTHER)
    return Corpus(conversation, ids)


def _here(pipeline: RunningPipeline, kind: Kind, output_format: str, out: Path, **options: Any) -> Any:
    metadata = options.pop("metadata", True)
    request = ExportRequest(kind, ExportFilters.parse(tenant=TENANT, **options), metadata)
    return run_export(pipeline.settings, request, out, output_format, None, None)


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def _through_pipeline(pipeline: RunningPipeline, key: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    response = pipeline.post("/v1/export", body, key=key)
    assert response.status_code == 200, response.text
    yield from _lines(response.content)


def test_eval_rows_are_the_responses_with_a_negative_signal(
    pipeline: RunningPipeline, corpus: Corpus, tmp_path: Path
) -> None:
    out = tmp_path / "eval.jsonl"
    summary = _here(pipeline, Kind.EVAL, "jsonl", out)
    rows = _lines(out.read_bytes())
    assert [corpus.name_of(row["lineage"]["trace_id"]) for row in rows] == EVAL
    assert dict(summary.skipped) == EVAL_SKIPPED
    by_name = {corpus.name_of(row["lineage"]["trace_id"]): row for row in rows}
    a1 = by_name["A1"]
    assert a1["input"] == "q-a"
    assert a1["output"] == "a1 bad"
    assert a1["expected"] is None
    assert a1["labels"] == {
        "thumb": "down",
        "thumbs_up": 0,
        "thumbs_down": 1,
        "rating": None,
        "ratings": 0,
        "reasons": ["hallucinated"],
        "comments": ["wrong"],
    }
    assert a1["signals"] == {"copies": 0, "edits": 0, "regenerates": 1, "rephrases": 0}
    assert a1["trace"]["model_version"] == "v-exp"
    assert a1["lineage"]["tenant"] == TENANT
    assert len(a1["lineage"]["event_ids"]) == 2  # the thumb and the regenerate
    assert by_name["B"]["expected"] == "b fixed"
    assert by_name["B"]["signals"] == {"copies": 1, "edits": 1, "regenerates": 0, "rephrases": 0}
    assert by_name["E1"]["labels"]["thumb"] is None  # one up, one down: a tie
    assert by_name["E3"]["labels"]["thumb"] == "up"  # two up, one down
    assert by_name["F1"]["labels"]["rating"] == 1.0
    assert "C" not in by_name  # its downvote was taken back
    manifest = orjson.loads((tmp_path / "eval.jsonl.manifest.json").read_bytes())
    assert manifest["rows"] == len(EVAL)
    assert manifest["skipped"] == EVAL_SKIPPED
    assert manifest["filters"]["tenant"] == TENANT
    assert manifest["columns"] == [
        "id", "input", "output", "expected", "labels", "signals", "trace", "lineage", "annotations"
    ]  # fmt: skip
    assert manifest["covered"]["from"] <= manifest["covered"]["to"]


def test_sft_rows_are_edited_or_rated_up_answers(pipeline: RunningPipeline, corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "sft.jsonl"
    summary = _here(pipeline, Kind.SFT, "jsonl", out)
    rows = _lines(out.read_bytes())
    got = [
        (corpus.name_of(row["metadata"]["trace_id"]), row["messages"][1]["content"], row["metadata"]["source"])
        for row in rows
    ]
    assert got == SFT
    assert rows[0]["messages"] == [{"role": "user", "content": "q-a"}, {"role": "assistant", "content": "a2 good"}]
    assert summary.skipped == {}
    bare = tmp_path / "sft-bare.jsonl"
    _here(pipeline, Kind.SFT, "jsonl", bare, metadata=False)
    assert [set(row) for row in _lines(bare.read_bytes())] == [{"messages"}] * len(SFT)


def test_dpo_pairs_follow_the_documented_rule(pipeline: RunningPipeline, corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "dpo.jsonl"
    summary = _here(pipeline, Kind.DPO, "jsonl", out)
    rows = _lines(out.read_bytes())
    got = [
        (
            corpus.name_of(row["metadata"]["chosen"]["trace_id"]),
            corpus.name_of(row["metadata"]["rejected"]["trace_id"]),
            row["metadata"]["source"],
        )
        for row in rows
    ]
    assert got == DPO
    assert dict(summary.skipped) == DPO_SKIPPED
    assert rows[0]["prompt"] == "q-a"
    assert rows[0]["chosen"] == "a2 good"
    assert rows[0]["rejected"] == "a1 bad"
    assert (rows[1]["chosen"], rows[1]["rejected"]) == ("b fixed", "b out")
    assert all(row["chosen"] != row["rejected"] for row in rows)
    assert len({row["metadata"]["id"] for row in rows}) == len(rows)


def test_same_data_same_bytes_here_and_through_the_pipeline(
    pipeline: RunningPipeline, corpus: Corpus, tmp_path: Path
) -> None:
    for kind in Kind:
        first, second = tmp_path / f"{kind}-1.jsonl", tmp_path / f"{kind}-2.jsonl"
        _here(pipeline, kind, "jsonl", first)
        _here(pipeline, kind, "jsonl", second)
        assert first.read_bytes() == second.read_bytes()
        streamed = list(_through_pipeline(pipeline, "admin", {"kind": kind.value, "filters": {"tenant": TENANT}}))
        assert "done" in streamed[-1]
        rows = b"".join(orjson.dumps(item["row"]) + b"\n" for item in streamed if "row" in item)
        assert rows == first.read_bytes()
        one, two = tmp_path / f"{kind}-1.parquet", tmp_path / f"{kind}-2.parquet"
        _here(pipeline, kind, "parquet", one)
        _here(pipeline, kind, "parquet", two)
        assert one.read_bytes() == two.read_bytes()


def test_outputs_load_with_pyarrow_and_datasets(
    pipeline: RunningPipeline, corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets  # noqa: PLC0415 (the Hugging Face library, test-only: slow to import, only here)

    for kind, expected in ((Kind.EVAL, len(EVAL)), (Kind.SFT, len(SFT)), (Kind.DPO, len(DPO))):
        parquet, jsonl = tmp_path / f"{kind}.parquet", tmp_path / f"{kind}.jsonl"
        _here(pipeline, kind, "parquet", parquet)
        _here(pipeline, kind, "jsonl", jsonl)
        table = pq.read_table(parquet)
        assert table.schema == schema_of(kind)
        assert table.num_rows == expected
        assert table.to_pylist() == _lines(jsonl.read_bytes())
        from_parquet = datasets.Dataset.from_parquet(str(parquet), cache_dir=str(tmp_path / "cache"))
        from_json = datasets.Dataset.from_json(str(jsonl), cache_dir=str(tmp_path / "cache"))
        assert from_parquet.num_rows == from_json.num_rows == expected
        assert from_parquet.column_names == schema_of(kind).names
    sft = datasets.Dataset.from_parquet(str(tmp_path / "sft.parquet"), cache_dir=str(tmp_path / "cache"))
    assert sft[0]["messages"][1] == {"role": "assistant", "content": "a2 good"}


def test_filters_select_by_dimension_and_time(pipeline: RunningPipeline, corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    assert _here(pipeline, Kind.EVAL, "jsonl", out, model_version="v-exp").rows == len(EVAL)
    assert _here(pipeline, Kind.EVAL, "jsonl", out, model_version="v-other").rows == 0
    assert _here(pipeline, Kind.EVAL, "jsonl", out, feature="chat", prompt_version="v7").rows == len(EVAL)
    assert _here(pipeline, Kind.EVAL, "jsonl", out, until="2000-01-01T00:00:00Z").rows == 0
    # the no-trace response has no dimensions: a dimension filter leaves it out, not skipped
    assert dict(_here(pipeline, Kind.EVAL, "jsonl", out, feature="chat").skipped) == {NO_OUTPUT: 1}
    assert _here(pipeline, Kind.EVAL, "jsonl", out, since="1h").rows == len(EVAL)


def test_tenants_never_mix_and_analyst_keys_export_only_their_own(pipeline: RunningPipeline, corpus: Corpus) -> None:
    admin_all = list(_through_pipeline(pipeline, "admin", {"kind": "dpo"}))
    tenants = {
        side["tenant"]
        for item in admin_all
        if "row" in item
        for side in (item["row"]["metadata"]["chosen"], item["row"]["metadata"]["rejected"])
        if item["row"]["metadata"]["chosen"]["conversation_id"] == corpus.conversation
    }
    assert tenants == {TENANT}  # umbrella's attempt at turn-a pairs with nothing of initech's
    analyst = list(_through_pipeline(pipeline, "initech_analyst", {"kind": "eval"}))
    admin = list(_through_pipeline(pipeline, "admin", {"kind": "eval", "filters": {"tenant": TENANT}}))
    assert analyst == admin
    assert {item["row"]["lineage"]["tenant"] for item in analyst if "row" in item} == {TENANT}
    refused = pipeline.post("/v1/export", {"kind": "eval", "filters": {"tenant": OTHER}}, key="initech_analyst")
    assert refused.status_code == 403
    assert (
        refused.json()["error"]
        == "tenant: an analyst key of tenant 'initech' may only export 'initech', not 'umbrella'"
    )
    assert pipeline.post("/v1/export", {"kind": "eval"}, key="secret").status_code == 403
    bad = pipeline.post("/v1/export", {"kind": "nope"}, key="admin")
    assert bad.status_code == 400
    assert "kind:" in bad.json()["error"]
    bad = pipeline.post("/v1/export", {"kind": "eval", "filters": {"since": "soon"}}, key="admin")
    assert bad.status_code == 400
    assert "--since" in bad.json()["error"]


def test_through_the_pipeline_reports_progress_and_the_summary(pipeline: RunningPipeline, corpus: Corpus) -> None:
    body = {"kind": "eval", "filters": {"tenant": TENANT}, "total": True}
    items = list(_through_pipeline(pipeline, "admin", body))
    assert items[0] == {"total": len(TRACES) + 1}  # every response with feedback, Z included
    assert sum(item.get("progress", 0) for item in items) == len(TRACES) + 1
    assert items[-1]["done"]["rows"] == len(EVAL)
    assert items[-1]["done"]["skipped"] == EVAL_SKIPPED


def test_parquet_stream_is_a_valid_file(pipeline: RunningPipeline, corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "dpo.parquet"
    _here(pipeline, Kind.DPO, "parquet", out)
    assert pq.read_table(io.BytesIO(out.read_bytes())).num_rows == len(DPO)
    assert not (tmp_path / "dpo.parquet.partial").exists()
