"""``feedback rejoin``: here, or inside the running pipeline that owns the embedded engine.

Like a replay, a rejoin while ``feedback up`` runs goes through its collector (``POST
/v1/rejoin``, admin key), so it runs in the process whose worker writes the same database and
takes the same write locks (``consumers.write_locks``): two rejoins at once, or a rejoin while
the worker joins arriving traces, rejoin each event once.
"""

from __future__ import annotations

import asyncio

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from feedback.remote import error_of, post_to_pipeline
from operations.rejoin import rejoin_all
from producers.app import bearer_token
from producers.keys import KeyKind, KeyStore, require_kind
from runtime.settings import Settings


class RejoinEndpoint:
    """``POST /v1/rejoin`` on a running pipeline: admin key; answers ``{"rejoined": N}``."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self._settings = settings
        self._keys = keys

    async def handle(self, request: Request) -> Response:
        require_kind(self._keys.authenticate(bearer_token(request)), KeyKind.ADMIN)
        rejoined = await asyncio.to_thread(self._rejoin)
        return JSONResponse({"rejoined": rejoined})

    def _rejoin(self) -> int:
        return rejoin_all(self._settings.clickhouse().connect(), self._settings.clickhouse_database)


def rejoin_remote(http_addr: str, admin_key: str) -> int:
    """Ask the running pipeline to rejoin; raises RuntimeError with its error."""
    response = post_to_pipeline(
        http_addr, "/v1/rejoin", admin_key, timeout=httpx.Timeout(30, read=None), failure=RuntimeError
    )
    if response.status_code != 200:
        raise RuntimeError(error_of(response))
    return int(response.json()["rejoined"])
