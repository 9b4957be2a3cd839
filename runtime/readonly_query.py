"""Read-only SQL for people (``POST /v1/query``, ``feedback query``), on both ClickHouse backends.

What keeps a query read-only and, for an ``analyst`` key, inside one tenant — each enforced by
ClickHouse, never by rewriting the user's SQL:

* **One statement.** ClickHouse's own parser (``formatQuery``, the SQL passed as a bound
  parameter, never run) must see exactly one statement; what then runs is its rendering of that
  statement. (chdb runs every statement of a multi-statement text, and a ``SETTINGS readonly``
  appended to the text reached only the last one.)
* **Session settings.** Every query runs on a client whose session was set up before the user's
  SQL arrives: ``readonly = 1`` (which also forbids changing any setting afterwards, so a
  ``SETTINGS`` clause cannot lift a limit or a filter), a time limit, a memory limit and a row cap.
* **Tenant rows.** An analyst's session carries ``additional_table_filters`` with
  ``tenant_id = '<tenant>'`` for every table and view of the feedback database (``0`` — no rows —
  for one without a ``tenant_id``). ClickHouse applies them wherever the table is read: in
  subqueries, joins, UNIONs and inside views.
* **Nothing else.** The analyzer's query tree of an analyst's SELECT may name tables of the
  feedback database only (plus ``system.one``, the implicit table of ``SELECT 1``) and no table
  function. For every key: no ``INTO OUTFILE`` or ``FORMAT`` clause, no function that reads files
  (``file``), only read statements, and table functions limited to those that compute rows
  (``numbers``, ``values``, …) — ``readonly`` already refuses ``url``, ``s3``, ``remote`` and the
  like; the list makes it independent of that.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from clickhouse_connect.driver.query import QueryResult

from runtime.clickhouse import ClickHouseTarget
from runtime.errors import RuntimeFailure
from runtime.wording import article

MAX_SQL_BYTES = 100_000

# Statements a read-only key may run (the root of ClickHouse's AST); analysts: SELECT only.
_SELECT_ROOTS = frozenset({"SelectWithUnionQuery", "SelectIntersectExceptQuery"})
_ADMIN_ROOTS = _SELECT_ROOTS | {
    "ShowTables",
    "ShowColumns",
    "DescribeQuery",
    "ExistsTableQuery",
    "ShowCreateTableQuery",
}
# Table functions that only compute rows: no file, network, other database or process.
_COMPUTING_TABLE_FUNCTIONS = frozenset(
    {"numbers", "numbers_mt", "zeros", "zeros_mt", "values", "generate_series", "generateSeries", "null"}
)
# Scalar functions that read the machine's files.
_FILE_FUNCTIONS = frozenset({"file", "catboostEvaluate"})
# The table ClickHouse reads for a SELECT without FROM.
_IMPLICIT_TABLES = frozenset({"system.one"})

_AST_FUNCTION = re.compile(r"^\s*Function (\w+)")
_TREE_TABLE = re.compile(r"\bTABLE id: \d+.*?\btable_name: ([^\s,]+)")
_TREE_TABLE_FUNCTION = re.compile(r"\bTABLE_FUNCTION id: \d+.*?\btable_function_name: (\w+)")
_TREE_FUNCTION = re.compile(r"\bfunction_name: (\w+)")


class QueryRefused(RuntimeFailure):
    """The SQL may not run: not one read statement, or it reaches past what its key may read."""


class QueryError(RuntimeFailure):
    """ClickHouse refused or failed the query; the message is ClickHouse's useful line."""


@dataclass(frozen=True)
class QueryLimits:
    """What any one query may cost (settings ``FEEDBACK_QUERY_*``)."""

    timeout_s: float = 30.0
    max_memory_bytes: int = 2 * 1024**3
    max_rows: int = 100_000


@dataclass(frozen=True)
class ReadScope:
    """Who is asking: ``tenant=None`` is the operator (admin key), else one tenant's analyst."""

    tenant: str | None = None

    @property
    def kind(self) -> str:
        return "admin" if self.tenant is None else "analyst"


ADMIN = ReadScope()


@dataclass
class _Session:
    client: Client
    tables: frozenset[tuple[str, bool]] = field(default_factory=frozenset)


class ReadOnlyQueries:
    """Runs people's SQL under a scope; opens its clients on first use (the embedded engine may
    belong to this process) and keeps one read-only session per scope."""

    def __init__(self, target: ClickHouseTarget, database: str, limits: QueryLimits | None = None) -> None:
        self._target = target
        self._database = database
        self._limits = limits or QueryLimits()
        self._sessions: dict[ReadScope, _Session] = {}
        self._catalog: Client | None = None
        self._lock = threading.Lock()

    def run(self, sql: Any, scope: ReadScope = ADMIN) -> dict[str, Any]:
        """``{"columns": [...], "rows": [[...], ...]}`` of one read-only statement."""
        if not isinstance(sql, str) or not sql.strip():
            raise QueryRefused("sql: required, a SELECT statement as a string")
        if len(sql.encode()) > MAX_SQL_BYTES:
            raise QueryRefused(f"sql: over {MAX_SQL_BYTES} bytes")
        with self._lock:
            client = self._session(scope)
            statement = self._one_statement(client, sql)
            self._check(client, statement, scope)
            try:
                result = client.query(statement)
            except ClickHouseError as exc:
                raise QueryError(f"sql: {clickhouse_message(exc)}") from None
        return {"columns": list(result.column_names), "rows": [list(row) for row in result.result_rows]}

    def select(self, sql: str, parameters: dict[str, Any] | None = None, scope: ReadScope = ADMIN) -> QueryResult:
        """The product's own SELECTs (dashboard figures, exports) on the scope's read-only session:
        the SQL is ours, so it skips the statement checks, but an analyst's tenant filters and
        every limit still apply."""
        with self._lock:
            client = self._session(scope)
            try:
                return client.query(sql, parameters=parameters)
            except ClickHouseError as exc:
                raise QueryError(clickhouse_message(exc)) from None

    # -- sessions -----------------------------------------------------------------------------

    def _session(self, scope: ReadScope) -> Client:
        """The scope's read-only client; an analyst's is rebuilt when the database's tables
        change, so a table created after the session started is never read unfiltered."""
        tables = self._tables() if scope.tenant is not None else frozenset()
        session = self._sessions.get(scope)
        if session is None or session.tables != tables:
            if session is not None:
                session.client.close()
            session = _Session(self._open(self._session_settings(scope, tables)), tables)
            self._sessions[scope] = session
        return session.client

    def _session_settings(self, scope: ReadScope, tables: frozenset[tuple[str, bool]]) -> dict[str, Any]:
        limits = self._limits
        settings: dict[str, Any] = {
            "max_execution_time": limits.timeout_s,
            "max_memory_usage": limits.max_memory_bytes,
            "max_result_rows": limits.max_rows,
            "result_overflow_mode": "break",
        }
        if scope.tenant is not None:
            tenant = _sql_string(scope.tenant)
            filters = {
                f"{self._database}.{name}": f"tenant_id = {tenant}" if has_tenant else "0"
                for name, has_tenant in sorted(tables)
            }
            settings["additional_table_filters"] = (
                "{" + ", ".join(f"{_sql_string(k)}: {_sql_string(v)}" for k, v in filters.items()) + "}"
            )
        return settings

    def _open(self, settings: dict[str, Any]) -> Client:
        """A client whose session is read-only: the limits and filters first, ``readonly`` last
        (after it, the session refuses every change of setting)."""
        try:
            client = self._target.connect(database=self._database, **settings)
            client.set_client_setting("readonly", "1")
        except ClickHouseError as exc:
            raise self._connect_error(exc) from None
        return client

    def _tables(self) -> frozenset[tuple[str, bool]]:
        """Every table and view of the feedback database, and whether it has a ``tenant_id``."""
        if self._catalog is None:
            try:
                self._catalog = self._target.connect(database=self._database)
            except ClickHouseError as exc:
                raise self._connect_error(exc) from None
        rows = self._catalog.query(
            "SELECT t.name, countIf(c.name = 'tenant_id') > 0 FROM system.tables AS t "
            "LEFT JOIN system.columns AS c ON c.database = t.database AND c.table = t.name "
            "WHERE t.database = {db:String} GROUP BY t.name",
            parameters={"db": self._database},
        ).result_rows
        return frozenset((str(name), bool(has)) for name, has in rows)

    def _connect_error(self, exc: ClickHouseError) -> QueryError:
        if "UNKNOWN_DATABASE" in str(exc):
            return QueryError(f"database {self._database} does not exist yet: run `feedback migrate` (or `make up`)")
        return QueryError(f"ClickHouse: {clickhouse_message(exc)}")

    # -- the statement ------------------------------------------------------------------------

    def _one_statement(self, client: Client, sql: str) -> str:
        """ClickHouse's rendering of the one statement in ``sql``; the text is a bound
        parameter here, parsed and never run."""
        try:
            rendered = client.query("SELECT formatQuery({sql:String})", parameters={"sql": sql}).result_rows
        except ClickHouseError as exc:
            message = clickhouse_message(exc)
            if "Multi-statements are not allowed" in message:
                raise QueryRefused("sql: exactly one statement per request (found more than one)") from None
            raise QueryError(f"sql: {message}") from None
        return str(rendered[0][0])

    def _check(self, client: Client, statement: str, scope: ReadScope) -> None:
        ast = self._explain(client, "AST", statement)
        root = ast[0].split(" (", 1)[0].strip() if ast else ""
        allowed_roots = _ADMIN_ROOTS if scope.tenant is None else _SELECT_ROOTS
        if root not in allowed_roots:
            what = "a read statement (SELECT, SHOW, DESCRIBE)" if scope.tenant is None else "a SELECT"
            raise QueryRefused(f"sql: only {what} may run with {article(scope.kind)} key")
        if root in _SELECT_ROOTS:
            # The root's children: its list of SELECTs, then INTO OUTFILE, FORMAT or SETTINGS.
            clauses = [line.strip() for line in ast[1:] if line.startswith(" ") and not line.startswith("  ")][1:]
            if any(not clause.startswith("Set") for clause in clauses):
                raise QueryRefused("sql: no INTO OUTFILE or FORMAT clause (the API answers JSON)")
        for line in ast:
            name = _AST_FUNCTION.match(line)
            if name and name.group(1) in _FILE_FUNCTIONS:
                raise QueryRefused(f"sql: function {name.group(1)}() reads files and may not run here")
        if root not in _SELECT_ROOTS:
            return
        tree = "\n".join(self._explain(client, "QUERY TREE", statement))
        for function in _TREE_FUNCTION.findall(tree):
            if function in _FILE_FUNCTIONS:
                raise QueryRefused(f"sql: function {function}() reads files and may not run here")
        for table_function in _TREE_TABLE_FUNCTION.findall(tree):
            if scope.tenant is not None or table_function not in _COMPUTING_TABLE_FUNCTIONS:
                raise QueryRefused(
                    f"sql: table function {table_function}() is not allowed with {article(scope.kind)} key"
                )
        if scope.tenant is not None:
            for table in _TREE_TABLE.findall(tree):
                if table not in _IMPLICIT_TABLES and not table.startswith(f"{self._database}."):
                    raise QueryRefused(
                        f"sql: {table} is outside the {self._database} database; "
                        f"{article(scope.kind)} key reads only that database"
                    )

    def _explain(self, client: Client, kind: str, statement: str) -> list[str]:
        if statement.rsplit("\n", 1)[-1].startswith("FORMAT "):
            raise QueryRefused("sql: no INTO OUTFILE or FORMAT clause (the API answers JSON)")
        try:
            rows = client.query(f"EXPLAIN {kind} {statement}").result_rows
        except ClickHouseError as exc:
            raise QueryError(f"sql: {clickhouse_message(exc)}") from None
        lines = [str(row[0]) for row in rows]
        # The driver's own FORMAT clause shows as the root's last child in an AST: not the user's.
        return lines[:-1] if kind == "AST" and lines and lines[-1].startswith(" Identifier ") else lines

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.client.close()
            self._sessions.clear()
            if self._catalog is not None:
                self._catalog.close()
                self._catalog = None


def clickhouse_message(exc: Exception) -> str:
    """The useful line of a ClickHouse error (its code and text), without driver noise."""
    text = str(exc).strip()
    for line in text.splitlines():
        if "DB::Exception" in line or line.startswith("Code:"):
            return line.strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
