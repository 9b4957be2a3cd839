"""The collector's HTTP server: stalled bodies time out (408), connections past the cap get 503."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from feedback.services import CollectorServer
from tests.helpers import free_port, wait_for
from tests.unit.producers.fakes import fake_collector


@pytest.fixture(params=[0.5])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A collector served by uvicorn, with a body timeout of ``param`` seconds and 3 connections."""
    addr = f"127.0.0.1:{free_port()}"
    collector = fake_collector(http_addr=addr, http_body_timeout_s=request.param, http_max_connections=3)
    running = CollectorServer(collector.settings, collector)
    thread = running.start_in_thread()
    wait_for(lambda: _healthy(addr), 10, what="collector up")
    yield addr
    running.stop()
    thread.join(10)


def stalled_upload(addr: str) -> socket.socket:
    """A connection that sends headers and a part of the body it announced, then nothing."""
    host, port = addr.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer pk_1\r\n"
        b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"events": ['
    )
    return sock


def test_a_stalled_body_is_a_408_and_the_connection_closes(server: str) -> None:
    with stalled_upload(server) as sock:
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"body: not received whole within 0.5 s" in answer


@pytest.mark.parametrize("server", [60.0], indirect=True)
def test_connections_past_the_cap_get_503(server: str) -> None:
    held = [stalled_upload(server) for _ in range(3)]
    try:
        assert wait_for(lambda: _status(server) == 503, 10, 0.02, what="503 past the connection cap")
    finally:
        for sock in held:
            sock.close()
    wait_for(lambda: _status(server) == 200, 10, what="served again once the held connections closed")


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _status(addr: str) -> int:
    return httpx.get(f"http://{addr}/healthz", timeout=5).status_code


def _healthy(addr: str) -> bool:
    try:
        return _status(addr) == 200
    except httpx.HTTPError:
        return False
