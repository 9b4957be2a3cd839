"""A minimal Confluent schema registry (the REST calls our producers and consumers make), for
tests on machines without one. It speaks the registry's API; it checks no compatibility.
``fail_with`` makes lookups answer that HTTP status (a failing registry); ``running_registry`` on
a given port with a given registry brings one back after it was down."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.helpers import free_port, wait_for


class FakeRegistry:
    def __init__(self) -> None:
        self.schemas: list[str] = []
        self.subjects: dict[str, list[int]] = {}
        self.fail_with: int | None = None
        self.failed_lookups = 0

    async def register(self, request: Request) -> JSONResponse:
        body = await request.json()
        text = body["schema"]
        if text not in self.schemas:
            self.schemas.append(text)
        schema_id = self.schemas.index(text) + 1
        versions = self.subjects.setdefault(request.path_params["subject"], [])
        if schema_id not in versions:
            versions.append(schema_id)
        return JSONResponse({"id": schema_id})

    async def by_id(self, request: Request) -> JSONResponse:
        schema_id = int(request.path_params["schema_id"])
        if self.fail_with is not None:
            self.failed_lookups += 1
            return JSONResponse({"error_code": 50001, "message": "simulated failure"}, status_code=self.fail_with)
        if not 1 <= schema_id <= len(self.schemas):
            return JSONResponse({"error_code": 40403, "message": "Schema not found"}, status_code=404)
        return JSONResponse({"schema": self.schemas[schema_id - 1]})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/subjects/{subject}/versions", self.register, methods=["POST"]),
                Route("/schemas/ids/{schema_id:int}", self.by_id, methods=["GET"]),
            ]
        )


@contextmanager
def running_registry(
    registry: FakeRegistry | None = None, port: int | None = None
) -> Iterator[tuple[str, FakeRegistry]]:
    registry = registry or FakeRegistry()
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(registry.app(), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 10, what="fake registry up")
    try:
        yield f"http://127.0.0.1:{port}", registry
    finally:
        server.should_exit = True
        thread.join(10)
