"""``feedback query``: read-only SQL against the configured ClickHouse, or through the running collector."""

from __future__ import annotations

from typing import Any

from feedback.engine import EngineBusy, pipeline_address
from feedback.remote import post_to_pipeline
from producers.errors import CollectorError
from producers.keys import ApiKey, KeyKind, KeyStore, require_kind
from producers.query import QueryService, scope_of
from runtime.readonly_query import ADMIN
from runtime.settings import Settings


class QueryFailed(Exception):
    """The query could not run; the message says why."""


class NoAdminKey(RuntimeError):
    """The keys file has no admin key to ask the running pipeline with."""


def admin_key(settings: Settings) -> str:
    admin = KeyStore.load(settings.keys_file).first(KeyKind.ADMIN)
    if admin is None:
        raise NoAdminKey(f"no admin key in {settings.keys_file} to ask the running pipeline with")
    return admin.key


def reading_key(settings: Settings, presented: str) -> ApiKey:
    """The admin or analyst key of the keys file a query runs as."""
    try:
        api_key = KeyStore.load(settings.keys_file).authenticate(presented)
        require_kind(api_key, KeyKind.ADMIN, KeyKind.ANALYST)
    except CollectorError as exc:
        raise QueryFailed(exc.message) from None
    except (FileNotFoundError, ValueError) as exc:  # no keys file, or one that breaks a rule
        raise QueryFailed(str(exc)) from None
    return api_key


def run_query(settings: Settings, sql: str, key: str | None = None) -> dict[str, Any]:
    """Run ``sql`` as ``key``, an admin or analyst key (an analyst sees its tenant's rows only).
    Without one: through a running pipeline as the keys file's admin key, or on the engine
    directly as its operator (who can read the engine's files anyway)."""
    try:
        address = pipeline_address(settings, "query")
    except EngineBusy as exc:
        raise QueryFailed(str(exc)) from None
    if address is not None:
        if key is None:
            try:
                key = admin_key(settings)
            except (NoAdminKey, FileNotFoundError, ValueError) as exc:
                raise QueryFailed(str(exc)) from None
        return _through_collector(address, key, sql)
    scope = ADMIN if key is None else scope_of(reading_key(settings, key))
    service = QueryService(settings.clickhouse(), settings.clickhouse_database, settings.query_limits())
    try:
        return service.run(sql, scope)
    except CollectorError as exc:  # BadRequest carries the ClickHouse message
        raise QueryFailed(exc.message) from exc


def _through_collector(http_addr: str, key: str, sql: str) -> dict[str, Any]:
    response = post_to_pipeline(http_addr, "/v1/query", key, {"sql": sql}, timeout=120, failure=QueryFailed)
    body = response.json()
    if response.status_code != 200:
        raise QueryFailed(body.get("error", response.text))
    return dict(body)
