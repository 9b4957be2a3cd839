"""``POST /v1/query``: read-only SQL for admin keys (every tenant) and analyst keys (their own
tenant's rows only); what enforces both lives in ``runtime.readonly_query``."""

from __future__ import annotations

from typing import Any

from producers.errors import BadRequest
from producers.keys import ApiKey, KeyKind
from runtime.clickhouse import ClickHouseTarget
from runtime.readonly_query import ADMIN, QueryError, QueryLimits, QueryRefused, ReadOnlyQueries, ReadScope


def scope_of(api_key: ApiKey) -> ReadScope:
    """An analyst reads its tenant; the admin (the operator's key) reads everything."""
    return ReadScope(api_key.tenant) if api_key.kind is KeyKind.ANALYST else ADMIN


class QueryService:
    """Opens its ClickHouse clients on first use (the embedded engine may belong to this process)."""

    def __init__(self, target: ClickHouseTarget, database: str, limits: QueryLimits | None = None) -> None:
        self._queries = ReadOnlyQueries(target, database, limits)

    @property
    def queries(self) -> ReadOnlyQueries:
        """The read-only sessions, for the product's own SELECTs (dashboard figures): one engine
        client per process, shared with ``/v1/query``."""
        return self._queries

    def run(self, sql: Any, scope: ReadScope = ADMIN) -> dict[str, Any]:
        try:
            return self._queries.run(sql, scope)
        except (QueryRefused, QueryError) as exc:
            raise BadRequest(str(exc)) from None
