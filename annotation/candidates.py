"""What a sample draws from: responses (traces) of a tenant or all, since a time.

Flagged candidates are the responses with a negative signal, as the eval export defines it (a
current thumb down, a current rating <= 2, an edit, a regenerate or a rephrase: ``exports``), read
through the same query so a queue and the eval export never disagree on what is flagged. The
uniform draw (``random``) is over every response, flagged or not, and happens in ClickHouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from exports.filters import ExportFilters
from exports.responses import stream_responses
from exports.rows import stable_id

DIMENSIONS = ("feature", "prompt_version", "model_version")


@dataclass(frozen=True)
class Candidate:
    tenant_id: str
    trace_id: str
    message_id: str | None
    conversation_id: str
    feature: str | None = None
    prompt_version: str | None = None
    model_version: str | None = None
    input_text: str | None = None
    output_text: str | None = None

    @property
    def item_id(self) -> str:
        """The eval export's ``id`` of this response: a label ties back to its eval row."""
        return item_id_of(self.tenant_id, self.trace_id)

    @property
    def key(self) -> tuple[str, str]:
        return self.tenant_id, self.trace_id

    @property
    def text(self) -> str:
        return f"{self.input_text or ''}\n{self.output_text or ''}"

    def dimension(self, name: str) -> str:
        value: str | None = getattr(self, name)
        return value or ""


def item_id_of(tenant_id: str, trace_id: str) -> str:
    return stable_id("eval", tenant_id, trace_id)


def flagged(client: Client, tenant: str | None, since: datetime | None, with_text: bool = True) -> list[Candidate]:
    """Responses with a negative signal and a trace (what a reviewer can read), by (tenant, trace);
    without their texts unless asked (only similarity needs them: memory)."""
    found = [
        Candidate(
            r.tenant_id,
            r.trace_id,
            r.message_id,
            r.conversation_id,
            r.feature,
            r.prompt_version,
            r.model_version,
            r.input_text if with_text else None,
            r.output_text if with_text else None,
        )
        for r in stream_responses(client, ExportFilters(tenant=tenant, since=since))
        if r.negative and r.has_trace
    ]
    return sorted(found, key=lambda c: c.key)


def queued_keys(client: Client, queue: str, tenant: str | None) -> set[tuple[str, str]]:
    """(tenant, trace_id) of what ``queue`` already holds."""
    sql = "SELECT tenant_id, trace_id FROM annotation_queue WHERE queue = {queue:String}"
    parameters: dict[str, Any] = {"queue": queue}
    if tenant:
        sql += " AND tenant_id = {tenant:String}"
        parameters["tenant"] = tenant
    return {(str(a), str(b)) for a, b in client.query(sql, parameters=parameters).result_rows}


def queued_texts(client: Client, queue: str, tenant: str | None) -> list[str]:
    """Input and output of what ``queue`` already holds (for ``novel``)."""
    sql = """
        SELECT concat(ifNull(t.input_text, ''), '\n', ifNull(t.output_text, '')) AS text
        FROM annotation_queue AS q
        INNER JOIN traces AS t ON t.tenant_id = q.tenant_id AND t.trace_id = q.trace_id
        WHERE q.queue = {{queue:String}} AND ({tenant_clause})
        ORDER BY q.tenant_id, q.trace_id
    """
    parameters: dict[str, Any] = {"queue": queue}
    tenant_clause = "1"
    if tenant:
        tenant_clause = "q.tenant_id = {tenant:String}"
        parameters["tenant"] = tenant
    rows = client.query(sql.format(tenant_clause=tenant_clause), parameters=parameters).result_rows
    return [str(row[0]) for row in rows]


def uniform(
    client: Client,
    tenant: str | None,
    since: datetime | None,
    seed: int,
    count: int,
    queue: str,
    exclude: set[tuple[str, str]],
) -> list[Candidate]:
    """``count`` responses drawn uniformly (flagged or not), none that ``queue`` holds and none of
    ``exclude`` (what this run picked already). Every response gets a pseudo-random rank from a
    hash of (seed, tenant, trace_id) and the lowest ranks win, so the draw is the same for the
    same seed and data, and costs ClickHouse one top-N."""
    if count <= 0:
        return []
    conditions = [
        "(tenant_id, trace_id) NOT IN (SELECT tenant_id, trace_id FROM annotation_queue WHERE queue = {queue:String})"
    ]
    parameters: dict[str, Any] = {"seed": str(seed), "limit": count + len(exclude), "queue": queue}
    if tenant:
        conditions.append("tenant_id = {tenant:String}")
        parameters["tenant"] = tenant
    if since:
        conditions.append("timestamp >= {since:DateTime64(3, 'UTC')}")
        parameters["since"] = since
    sql = f"""
        SELECT tenant_id, trace_id, message_id, conversation_id, feature, prompt_version, model_version
        FROM traces
        WHERE {" AND ".join(conditions)}
        ORDER BY sipHash64({{seed:String}}, tenant_id, trace_id), tenant_id, trace_id
        LIMIT {{limit:UInt64}}
    """
    picked = []
    for tenant_id, trace_id, message_id, conversation_id, feature, prompt_version, model_version in client.query(
        sql, parameters=parameters
    ).result_rows:
        candidate = Candidate(tenant_id, trace_id, message_id, conversation_id, feature, prompt_version, model_version)
        if candidate.key not in exclude:
            picked.append(candidate)
    return picked[:count]
