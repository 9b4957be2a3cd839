"""A data error isolates exactly the culprit records by bisection; outages are not data errors."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, DataError, OperationalError

from consumers.clickhouse_errors import is_data_error
from consumers.errors import Backpressure, RowsRefused
from consumers.isolate import insert_isolating
from consumers.rows import Row


def test_bisection_stores_every_record_but_the_culprits() -> None:
    stored: list[Row] = []
    inserts = 0

    def insert(rows: list[Row]) -> None:
        nonlocal inserts
        inserts += 1
        if any(row[2] == "bad" for row in rows):
            raise RowsRefused("Code: 70. cannot convert")
        stored.extend(rows)

    rows = [["t", f"id-{i}", "bad" if i in (3, 40) else "ok"] for i in range(64)]
    rows.append(["t", "id-3", "ok"])  # a record's rows stay together: its other row goes with it
    refused = insert_isolating(insert, rows)
    assert set(refused) == {("t", "id-3"), ("t", "id-40")}
    assert sorted(row[1] for row in stored) == sorted(f"id-{i}" for i in range(64) if i not in (3, 40))
    assert inserts < 30


def test_an_outage_propagates_instead_of_bisecting() -> None:
    def insert(_rows: list[Row]) -> None:
        raise Backpressure("down")

    with pytest.raises(Backpressure):
        insert_isolating(insert, [["t", "a"], ["t", "b"]])


@pytest.mark.parametrize(
    ("error", "data"),
    [
        (DatabaseError("Code: 70. DB::Exception: cannot be safely converted (CANNOT_CONVERT_TYPE)"), True),
        (DatabaseError("Code: 27. DB::Exception: Cannot parse input"), True),
        (DataError("Unable to create native array for column `b`: error"), True),
        (DatabaseError("Code: 241. DB::Exception: Memory limit exceeded (MEMORY_LIMIT_EXCEEDED)"), False),
        (DatabaseError("Code: 60. DB::Exception: Unknown table (UNKNOWN_TABLE)"), False),
        (OperationalError("Error HTTPConnectionPool: connection refused"), False),
    ],
)
def test_data_errors_are_told_from_outages_by_code(error: ClickHouseError, data: bool) -> None:
    assert is_data_error(error) is data
