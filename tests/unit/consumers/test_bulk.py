from __future__ import annotations

from consumers.bulk import INSERT, STAGE_COLUMNS, VIOLATIONS
from consumers.bulk_traces import STAGE_COLUMNS as TRACE_STAGE
from consumers.rows import DIMENSIONS, EVENT_COLUMNS
from schemas.catalog import default_catalog
from schemas.vocabulary import EVENT_TYPES


def test_the_stage_table_reads_the_newest_event_schema() -> None:
    fields = [f["name"] for f in default_catalog().latest("event").definition["fields"]]
    assert list(STAGE_COLUMNS) == fields, "a new event schema version needs the stage table (consumers/bulk.py)"


def test_the_insert_fills_every_events_log_column() -> None:
    assert INSERT.count("{columns}") == 1
    insert = INSERT.replace("{joined}", ", ".join(f"t.{name}" for name in DIMENSIONS))
    select = insert.split("SELECT", 1)[1].split("FROM (SELECT * FROM", 1)[0]
    depth, in_quote, top_level_commas = 0, False, 0
    for char in select:
        if char == "'":
            in_quote = not in_quote
        elif not in_quote and char in "()":
            depth += 1 if char == "(" else -1
        elif not in_quote and depth == 0 and char == ",":
            top_level_commas += 1
    assert top_level_commas + 1 == len(EVENT_COLUMNS)


def test_the_sql_contract_check_knows_every_type() -> None:
    assert all(f"'{kind}'" in VIOLATIONS for kind in EVENT_TYPES)


def test_the_trace_stage_table_reads_the_newest_trace_schema() -> None:
    fields = [f["name"] for f in default_catalog().latest("trace").definition["fields"]]
    assert list(TRACE_STAGE) == fields, "a new trace schema version needs the stage table (consumers/bulk_traces.py)"
