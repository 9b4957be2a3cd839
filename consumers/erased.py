"""Never store an erased user's data again (docs/contract.md §7, ``erasures``).

``feedback forget`` records the user, their conversations and their responses (trace ids) in
``erased_ids`` before it removes anything. The worker drops every event and trace that matches,
whatever brings it (the live topics, a replay, a DLQ redrive): counted in
``feedback_worker_erased_total`` and the batch's ``erased``, neither an error nor a dead letter.

The fast path filters the staged batch in ClickHouse (one count over the session-local stage per
batch; the erased ids are a few per erasure, read whole), the slow path in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from consumers.errors import Backpressure
from runtime.personal_data import ERASED_IDS, erased_condition


def stage_condition(database: str) -> str:
    """True for a staged event or trace (columns ``tenant_id``, ``user_id``, ``conversation_id``,
    ``trace_id``) of an erased user."""
    return erased_condition(database, "user_id", "conversation_id", "trace_id")


ErasedIds = set[tuple[str, str, str]]  # (tenant_id, kind, id)


def erased_ids(client: Client, database: str, tenants: Iterable[str]) -> ErasedIds:
    """The erased ids of these tenants."""
    wanted = sorted(set(tenants))
    if not wanted:
        return set()
    try:
        rows = client.query(
            f"SELECT tenant_id, kind, id FROM {database}.{ERASED_IDS} WHERE tenant_id IN {{tenants:Array(String)}}",
            parameters={"tenants": wanted},
        ).result_rows
    except ClickHouseError as exc:
        raise Backpressure(f"ClickHouse lookup failed: {exc}") from exc
    return {(str(tenant), str(kind), str(value)) for tenant, kind, value in rows}


def is_erased(record: dict[str, Any], erased: ErasedIds) -> bool:
    """Whether a decoded event or trace belongs to an erased user."""
    tenant = record["tenant_id"]
    return (
        (tenant, "user", record.get("user_id") or "") in erased
        or (tenant, "conversation", record.get("conversation_id") or "") in erased
        or (tenant, "trace", record.get("trace_id") or "") in erased
    )
