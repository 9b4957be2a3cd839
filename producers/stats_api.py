"""``GET /v1/stats/<view>``: the dashboard's figures, for admin and analyst keys (docs/contract.md §3).

The figures come from an injected ``StatsSource`` (the loop's ``quality.dashboard_stats.Stats``, wired in
``feedback/services.py``): this module only authenticates, scopes and answers, so the collector
does not depend on the loop's SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from producers.app import OrjsonResponse, bearer_token, instrumented
from producers.errors import BadRequest, CollectorError, Forbidden, Unavailable
from producers.keys import KeyKind, KeyStore, require_kind
from producers.query import scope_of
from runtime.readonly_query import QueryError, ReadScope

log = structlog.get_logger(__name__)


class StatsSource(Protocol):
    def view(self, name: str, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any] | None:
        """A view's JSON; ``None`` for an unknown view; ``ValueError('field: reason')`` for a bad parameter."""
        ...


class NotFound(CollectorError):
    status = 404


class StatsEndpoint:
    def __init__(self, keys: KeyStore, source: StatsSource) -> None:
        self.keys = keys
        self.source = source

    async def handle(self, request: Request) -> Response:
        api_key = self.keys.authenticate(bearer_token(request))
        tenant = require_kind(api_key, KeyKind.ADMIN, KeyKind.ANALYST)
        params = dict(request.query_params)
        if api_key.kind is KeyKind.ANALYST and params.get("tenant") not in (None, "", tenant):
            raise Forbidden("tenant: an analyst key sees only its own tenant")
        view = request.path_params["view"]
        try:
            answer = await run_in_threadpool(self.source.view, view, params, scope_of(api_key))
        except QueryError as exc:
            log.warning("stats.query_failed", view=view, error=str(exc))
            raise Unavailable(f"ClickHouse: {exc}", retry_after=5) from None
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        if answer is None:
            raise NotFound(f"no stats view {view}")
        return OrjsonResponse(answer, headers={"Cache-Control": "no-store"})


def stats_routes(keys: KeyStore, source: StatsSource) -> list[Route]:
    endpoint = StatsEndpoint(keys, source)
    return [Route("/v1/stats/{view}", instrumented("/v1/stats", endpoint.handle), methods=["GET"])]
