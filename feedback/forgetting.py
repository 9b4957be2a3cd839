"""``feedback forget``: erase a user here, or through the running pipeline that owns the embedded engine.

Like ``feedback rejoin``, while ``feedback up`` runs the erasure goes through its collector
(``POST /v1/forget``, the keys file's admin key or ``--key``), so it runs in the process whose
workers write the same database, under the same write locks.
"""

from __future__ import annotations

import getpass
from typing import Any

import httpx

from feedback.engine import EngineBusy, engine_claim, pipeline_address
from feedback.erasure import EraseError, Eraser, settle_for
from feedback.querying import admin_key
from feedback.remote import error_of, post_to_pipeline
from runtime.migrations import migrate_as_configured
from runtime.settings import Settings


class ForgetFailed(Exception):
    """The erasure could not be carried out; the message says why."""


def run_forget(settings: Settings, tenant: str, user: str, key: str | None = None) -> dict[str, Any]:
    """Erase ``user`` of ``tenant``; the answer of ``POST /v1/forget`` (what was removed per table)."""
    try:
        address = pipeline_address(settings, "forget")
    except EngineBusy as exc:
        raise ForgetFailed(str(exc)) from None
    if address is not None:
        try:
            return _through_collector(address, key or admin_key(settings), tenant, user)
        except (RuntimeError, FileNotFoundError, ValueError) as exc:
            raise ForgetFailed(str(exc)) from None
    with engine_claim(settings, None):
        client = settings.clickhouse().connect()
        try:
            migrate_as_configured(client, settings)
            eraser = Eraser(
                client, settings.clickhouse_database, settle_s=settle_for(settings), cluster=settings.clickhouse_cluster
            )
            erasure = eraser.forget(tenant, user, f"cli:{_os_user()}")
        except EraseError as exc:
            raise ForgetFailed(str(exc)) from None
        finally:
            client.close()
    return erasure.as_json()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _through_collector(http_addr: str, key: str, tenant: str, user: str) -> dict[str, Any]:
    response = post_to_pipeline(
        http_addr,
        "/v1/forget",
        key,
        {"tenant": tenant, "user": user},
        timeout=httpx.Timeout(30, read=None),
        failure=ForgetFailed,
    )
    if response.status_code != 200:
        raise ForgetFailed(error_of(response))
    return dict(response.json())
