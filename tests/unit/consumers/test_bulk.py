from __future__ import annotations

from consumers.bulk import INSERT, STAGE_COLUMNS, VIOLATIONS
from consumers.bulk_traces import STAGE_COLUMNS as TRACE_STAGE
from consumers.rows import EVENT_COLUMNS
from schemas.catalog import default_catalog
from schemas.vocabulary import EVENT_TYPES


def test_the_stage_table_reads_the_newest_event_schema() -> None:
    fields = [f["name"] for f in default_catalog().latest("event").definition["fields"]]
    assert list(STAGE_COLUMNS) == fields
    assert STAGE_COLUMNS["value"] == "Variant(Int64, String)"
    assert STAGE_COLUMNS["received_via"] == "String DEFAULT 'http'"  # what v1 and v2 messages lack
    assert STAGE_COLUMNS["sent_at"] == "Nullable(DateTime64(3, 'UTC'))"


def test_the_insert_fills_every_events_log_column_once() -> None:
    select = INSERT.split("SELECT", 1)[1].split("FROM (SELECT * FROM", 1)[0]
    depth, in_quote, top_level_commas = 0, False, 0
    for char in select:
        if char == "'":
            in_quote = not in_quote
        elif not in_quote and char in "()":
            depth += 1 if char == "(" else -1
        elif not in_quote and depth == 0 and char == ",":
            top_level_commas += 1
    assert top_level_commas + 1 == len(EVENT_COLUMNS)
    assert "accurateCast(s.dwell_ms, 'Nullable(UInt32)')" in select  # integers cast to their column


def test_the_sql_contract_check_knows_every_type() -> None:
    assert all(f"'{kind}'" in VIOLATIONS for kind in EVENT_TYPES)


def test_the_trace_stage_table_reads_the_newest_trace_schema() -> None:
    fields = [f["name"] for f in default_catalog().latest("trace").definition["fields"]]
    assert list(TRACE_STAGE) == fields
    assert TRACE_STAGE["tools"] == (
        "Array(Tuple(name String, success Nullable(Bool), latency_ms Nullable(Int64), error Nullable(String)))"
    )
