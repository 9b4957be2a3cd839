"""The operator's endpoints (replay, rejoin, export) are wired in by the CLI, but the collector
wraps them like every other endpoint: errors become their answers, every request is counted."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.testclient import TestClient

from producers.app import create_app
from producers.errors import Forbidden
from tests.unit.producers.fakes import fake_collector


async def refuses(_request: Request) -> Response:
    raise Forbidden("an admin key is required")


async def breaks(_request: Request) -> Response:
    raise RuntimeError("a bug")


async def answers(_request: Request) -> Response:
    return JSONResponse({"rejoined": 3})


def counted(client: TestClient, route: str, status: int) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("feedback_http_requests_total{") and f'route="{route}"' in line and f'"{status}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_operator_endpoints_answer_errors_and_are_counted() -> None:
    app = create_app(
        fake_collector(),
        operator_endpoints={"/v1/replay": refuses, "/v1/export": breaks, "/v1/rejoin": answers},
    )
    client = TestClient(app, raise_server_exceptions=False)
    before = (
        counted(client, "/v1/replay", 403),
        counted(client, "/v1/export", 500),
        counted(client, "/v1/rejoin", 200),
    )

    refused = client.post("/v1/replay")
    assert (refused.status_code, refused.json()) == (403, {"error": "an admin key is required"})
    broken = client.post("/v1/export")
    assert (broken.status_code, broken.json()) == (500, {"error": "internal error"})
    assert client.post("/v1/rejoin").json() == {"rejoined": 3}
    assert client.get("/v1/rejoin").status_code == 405  # POST only

    after = (counted(client, "/v1/replay", 403), counted(client, "/v1/export", 500), counted(client, "/v1/rejoin", 200))
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]
