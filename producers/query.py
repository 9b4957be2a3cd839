"""Read-only SQL for admin keys (POST /v1/query): ClickHouse itself refuses writes (readonly=1)."""

from __future__ import annotations

import threading
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from producers.errors import BadRequest
from runtime.clickhouse import ClickHouseTarget

MAX_SQL_BYTES = 100_000


class QueryService:
    """Opens its ClickHouse client on first use (the embedded engine may belong to this process)."""

    def __init__(self, target: ClickHouseTarget, database: str, max_rows: int = 100_000) -> None:
        self._target = target
        self._database = database
        self._max_rows = max_rows
        self._client: Client | None = None
        self._lock = threading.Lock()

    def _connect(self) -> Client:
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._target.connect(database=self._database)
                except ClickHouseError as exc:
                    if "UNKNOWN_DATABASE" in str(exc):
                        raise BadRequest(
                            f"database {self._database} does not exist yet: run `feedback migrate` (or `make up`)"
                        ) from None
                    raise
            return self._client

    def run(self, sql: Any) -> dict[str, Any]:
        if not isinstance(sql, str) or not sql.strip():
            raise BadRequest("sql: required, a SELECT statement as a string")
        if len(sql.encode()) > MAX_SQL_BYTES:
            raise BadRequest(f"sql: over {MAX_SQL_BYTES} bytes")
        try:
            result = self._connect().query(
                sql,
                settings={"readonly": 1, "max_result_rows": self._max_rows, "result_overflow_mode": "break"},
            )
        except ClickHouseError as exc:
            raise BadRequest(f"sql: {clickhouse_message(exc)}") from None
        return {"columns": list(result.column_names), "rows": [list(row) for row in result.result_rows]}


def clickhouse_message(exc: Exception) -> str:
    """The useful line of a ClickHouse error (its code and text), without driver noise."""
    text = str(exc).strip()
    for line in text.splitlines():
        if "DB::Exception" in line or line.startswith("Code:"):
            return line.strip()
    return text.splitlines()[0] if text else type(exc).__name__
