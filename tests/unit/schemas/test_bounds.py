"""Every integer field is bounded by the ClickHouse column that stores it (one table, kept equal
to sql/ here), at intake and in the worker's own check."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from producers.intake import accept_events, accept_traces
from schemas.bounds import COLUMN_TYPES, out_of_range
from tests.helpers import event, trace

SQL = Path(__file__).resolve().parents[3] / "sql"


def _column_type(table_file: str, name: str) -> str:
    text = (SQL / table_file).read_text()
    found = re.search(rf"\b{name}\s+(?:Nullable\()?(U?Int\d+)", text)
    assert found, f"{name} not in {table_file}"
    return found.group(1)


@pytest.mark.parametrize(("subject", "table_file"), [("event", "0001_events.sql"), ("trace", "0002_traces.sql")])
def test_the_table_of_column_types_matches_the_migrations(subject: str, table_file: str) -> None:
    for path, column in COLUMN_TYPES[subject].items():
        assert _column_type(table_file, path.rpartition(".")[2]) == column, path


@pytest.mark.parametrize("value", [2**32, 2**63, 2**64 + 1])
def test_an_event_count_its_column_cannot_hold_rejects_that_item_only(value: int) -> None:
    now = int(time.time() * 1000)
    intake = accept_events([event("copy", copied_chars=value), event("copy")], None, "acme", now)
    assert len(intake.records) == 1
    assert [r.errors for r in intake.rejected] == [["copied_chars: must be at most 4294967295"]]


def test_negative_counts_are_rejected_with_the_bound() -> None:
    now = int(time.time() * 1000)
    intake = accept_events([event("edit", edit_distance=-1)], None, "acme", now)
    assert intake.rejected[0].errors == ["edit_distance: must be at least 0"]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"input_tokens": 2**32}, "input_tokens: must be at most 4294967295"),
        ({"latency_ms": 2**63}, "latency_ms: must be at most 4294967295"),
        ({"retry_count": -1}, "retry_count: must be at least 0"),
        ({"retrieval": {"chunk_count": 2**40}}, "retrieval.chunk_count: must be at most 4294967295"),
        ({"tools": [{"name": "s", "latency_ms": 2**32}]}, "tools.0.latency_ms: must be at most 4294967295"),
    ],
)
def test_trace_numbers_are_bounded_by_their_columns(fields: dict[str, object], error: str) -> None:
    intake = accept_traces([trace("t-1", "c-1", **fields), trace("t-2", "c-1")], "acme", int(time.time() * 1000))
    assert len(intake.records) == 1
    assert intake.rejected[0].errors == [error]


def test_the_worker_check_names_the_field_and_the_bound() -> None:
    assert out_of_range("event", {"copied_chars": 2**32}) == "copied_chars: must be at most 4294967295"
    assert out_of_range("trace", {"tools": [{"latency_ms": 1}, {"latency_ms": -5}]}) == (
        "tools.latency_ms: must be at least 0"
    )
    assert out_of_range("trace", {"retrieval": None, "input_tokens": None}) is None
