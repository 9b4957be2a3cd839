"""Erasure on request (``feedback forget``, ``POST /v1/forget``; docs/contract.md §1, §3, §7).

One user of one tenant is removed from every table of ``runtime.personal_data`` (which says how to
find their rows), and recorded so that nothing brings them back:

1. The ids never to store again go into ``erased_ids`` first: the user, their conversations (any
   row naming them), and the responses (trace ids) of those conversations. From then on the
   worker drops whatever matches (``consumers.erased``), so a replay, a DLQ redrive or an old
   message read late stores none of it.
2. Each table's matching rows are counted and removed with ``ALTER TABLE … DELETE`` and
   ``mutations_sync = 2``: done when this returns. A mutation rewrites the parts it touches,
   aggregate projections included, and removes every row of a signed-log version (the live row and
   its cancel rows alike: they share the user and the conversation), so every count of
   ``quality_hourly``, ``reasons_hourly`` and the other views over the logs stays exact.
   (A lightweight ``DELETE`` is refused on tables with projections.)
3. What matched is looked for again and removed again if a writer stored some meanwhile. Writers of
   this process (with the embedded engine: every writer) are held off by the write locks of every
   shard. Workers of other processes (a ClickHouse server) may have staged a batch before step 1
   and store it after step 2: with ``settle_s`` the erasure looks again once that long has passed,
   longer than a worker takes to store a batch.
4. The request goes into ``erasures``: who asked, when, and what was removed per table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from clickhouse_connect.driver.binding import format_query_value
from clickhouse_connect.driver.client import Client

from consumers.write_locks import EVERY_SHARD, locks_of
from runtime.cluster_ddl import rows_target
from runtime.personal_data import ERASED_IDS, PERSONAL_TABLES, PersonalTable
from runtime.settings import Settings

log = structlog.get_logger(__name__)

MAX_ID_LENGTH = 128  # user_id and tenant ids are at most this long (docs/contract.md §4)
ROUNDS = 5  # removal rounds at most, should writers of other processes keep storing the user's rows
# With a ClickHouse server, workers may run in other processes: how long a batch they staged may
# take to be stored (FEEDBACK_BATCH_MAX_WAIT_S is 0.4 s; writing a full batch, a few seconds).
OTHER_WRITERS_SETTLE_S = 10.0


def settle_for(settings: Settings) -> float:
    """0 with the embedded engine (every writer is in this process, under its write locks)."""
    return 0.0 if settings.clickhouse().embedded else OTHER_WRITERS_SETTLE_S


class EraseError(ValueError):
    """A request that cannot be carried out as asked; the message names the field."""


@dataclass(frozen=True)
class Erasure:
    tenant: str
    user: str
    requested_at: datetime
    requested_by: str
    removed: dict[str, int] = field(default_factory=dict)
    conversations: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "user": self.user,
            "requested_at": self.requested_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requested_by": self.requested_by,
            "conversations": self.conversations,
            "removed": self.removed,
        }


def checked_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EraseError(f"{name}: required, a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise EraseError(f"{name}: at most {MAX_ID_LENGTH} characters")
    return value


class Eraser:
    """Erases users from one database (every table of ``tables``)."""

    def __init__(
        self,
        client: Client,
        database: str,
        tables: tuple[PersonalTable, ...] = PERSONAL_TABLES,
        settle_s: float = 0.0,
        cluster: str | None = None,
    ) -> None:
        self._client = client
        self._db = database
        self._tables = tables
        self._settle_s = settle_s
        self._cluster = cluster

    def forget(self, tenant: str, user: str, requested_by: str, now: datetime | None = None) -> Erasure:
        tenant, user = checked_id("tenant", tenant), checked_id("user", user)
        requested_at = now or datetime.now(UTC)
        t, u = format_query_value(tenant), format_query_value(user)
        # every writer of this process waits (workers, replays, rejoins), so none stores a row of
        # the user between the lookups and the removal
        with locks_of(self._db).hold(EVERY_SHARD):
            conversations = self._record_ids(t, u, requested_at)
            removed = self._remove(t, u)
        if self._settle_s > 0:
            # what workers of other processes staged before the ids were recorded has landed by
            # then (this process's writers drop the user's rows since: no lock needed meanwhile)
            threading.Event().wait(self._settle_s)
            with locks_of(self._db).hold(EVERY_SHARD):
                late = self._remove(t, u)
            removed = {label: count + late.get(label, 0) for label, count in removed.items()}
        erasure = Erasure(tenant, user, requested_at, requested_by, removed, conversations)
        self._client.insert(
            f"{self._db}.erasures",
            [[tenant, user, requested_at, requested_by, removed, conversations]],
            column_names=["tenant_id", "user_id", "requested_at", "requested_by", "removed", "conversations"],
        )
        log.info("erasure.done", tenant=tenant, conversations=conversations, removed=removed, by=requested_by)
        return erasure

    def _record_ids(self, t: str, u: str, requested_at: datetime) -> int:
        at = format_query_value(requested_at.replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds"))
        target = f"INSERT INTO {self._db}.{ERASED_IDS} (tenant_id, kind, id, user_id, requested_at)"
        self._command(f"{target} VALUES ({t}, 'user', {u}, {u}, {at})")
        naming = [
            f"SELECT {table.conversation_column} AS id FROM {self._db}.{table.name} "
            f"WHERE tenant_id = {t} AND {table.user_sql(u)}"
            for table in self._tables
            if table.conversation_column and table.user_match
        ]
        self._record(target, "conversation", naming, t, u, at)
        conversations = self._erased(t, u, "conversation")
        of_conversations = [
            f"SELECT {table.trace_column} AS id FROM {self._db}.{table.name} "
            f"WHERE tenant_id = {t} AND {table.conversation_column} IN {conversations}"
            for table in self._tables
            if table.conversation_column and table.trace_column
        ]
        self._record(target, "trace", of_conversations, t, u, at)
        return int(self._value(f"SELECT uniqExact(id) FROM {conversations}"))

    def _record(self, target: str, kind: str, selects: list[str], t: str, u: str, at: str) -> None:
        """Record as erased ids of ``kind`` every id the ``selects`` (each a SELECT of ``id``) find."""
        if selects:
            self._command(
                f"{target} SELECT DISTINCT {t}, '{kind}', assumeNotNull(id), {u}, {at} "
                f"FROM ({' UNION ALL '.join(selects)}) WHERE ifNull(id, '') != ''"
            )

    def _erased(self, t: str, u: str, kind: str) -> str:
        return f"(SELECT id FROM {self._db}.{ERASED_IDS} WHERE tenant_id = {t} AND kind = '{kind}' AND user_id = {u})"

    def where(self, table: PersonalTable, t: str, u: str) -> str:
        """The user's rows of ``table``: naming them, or of their conversations or responses."""
        matches = [m for m in (table.user_sql(u),) if m]
        if table.conversation_column:
            matches.append(f"{table.conversation_column} IN {self._erased(t, u, 'conversation')}")
        if table.trace_column:
            matches.append(f"ifNull({table.trace_column}, '') IN {self._erased(t, u, 'trace')}")
        if table.item_column:
            item = table.item_of_trace.format(tenant="tenant_id", trace="id")
            matches.append(
                f"{table.item_column} IN (SELECT {item} FROM {self._db}.{ERASED_IDS} "
                f"WHERE tenant_id = {t} AND kind = 'trace' AND user_id = {u})"
            )
        if not matches:
            raise EraseError(f"table {table.name}: declares no way to find a user's rows")
        return f"tenant_id = {t} AND ({' OR '.join(matches)})"

    def _remove(self, t: str, u: str) -> dict[str, int]:
        removed: dict[str, int] = {}
        for table in self._tables:
            where = self.where(table, t, u)
            removed.setdefault(table.label, 0)
            for _ in range(ROUNDS):
                rows, counted = self._client.query(
                    f"SELECT count(), {table.counted} FROM {self._db}.{table.name} WHERE {where}"
                ).result_rows[0]
                if not rows:
                    break
                removed[table.label] += int(counted)
                self._command(self._delete(table, where))
            else:
                raise RuntimeError(f"{table.name}: rows of the user keep arriving; run the erasure again")
        return removed

    def _delete(self, table: PersonalTable, where: str) -> str:
        """The mutation removing ``where``'s rows. On a cluster its WHERE reads ``erased_ids``
        through a Distributed table, so the mutation must be allowed to read another table."""
        settings = "mutations_sync = 2" + (", allow_nondeterministic_mutations = 1" if self._cluster else "")
        return (
            f"ALTER TABLE {rows_target(self._db, table.name, self._cluster)} DELETE WHERE {where} SETTINGS {settings}"
        )

    def _value(self, sql: str) -> Any:
        return self._client.query(sql).result_rows[0][0]

    def _command(self, sql: str) -> None:
        self._client.command(sql)


def carry_erasures(client: Client, source: str, target: str) -> None:
    """Copy the erased ids of ``source`` into ``target`` (a replay that rebuilds another database
    must not restore anyone erased from the live one). A no-op without them in ``source``."""
    if source == target:
        return
    exists = client.query(
        "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {name:String}",
        parameters={"db": source, "name": ERASED_IDS},
    ).result_rows[0][0]
    if exists:
        client.command(
            f"INSERT INTO {target}.{ERASED_IDS} SELECT * FROM {source}.{ERASED_IDS} "
            f"WHERE (tenant_id, kind, id) NOT IN (SELECT tenant_id, kind, id FROM {target}.{ERASED_IDS})"
        )


def erase_in(settings: Settings) -> Callable[[str, str, str], dict[str, Any]]:
    """The collector's ``POST /v1/forget`` (``producers.forget``): erase from the configured database
    with a client of its own, answering what was removed."""

    def forget(tenant: str, user: str, requested_by: str) -> dict[str, Any]:
        client = settings.clickhouse().connect()
        try:
            eraser = Eraser(
                client, settings.clickhouse_database, settle_s=settle_for(settings), cluster=settings.clickhouse_cluster
            )
            return eraser.forget(tenant, user, requested_by).as_json()
        finally:
            client.close()

    return forget
