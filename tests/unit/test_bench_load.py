"""The collector bench's clients: raw HTTP/1.1 keep-alive loops that count what a server accepted,
answer by answer, and start over on a fresh connection when one is closed under them."""

from __future__ import annotations

import asyncio
import time

import orjson

from bench.load import LoadSpec, _closed_loop, _request


async def _serve(seen: list[bytes], close_every: int) -> asyncio.Server:
    """A collector stand-in: 202 with every request's event count, or 400; closes the connection
    after every ``close_every``-th request."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            body = orjson.loads(await reader.readexactly(length))
            seen.append(head)
            events = len(body["events"])
            status, answer = (202, {"accepted": events, "rejected": []}) if events else (400, {"error": "empty"})
            payload = orjson.dumps(answer)
            writer.write(b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n\r\n%s" % (status, len(payload), payload))
            await writer.drain()
            if len(seen) % close_every == 0:
                break
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_the_closed_loop_counts_what_was_accepted_and_survives_closed_connections() -> None:
    async def run() -> tuple[int, int, dict[int, int], list[bytes]]:
        seen: list[bytes] = []
        server = await _serve(seen, close_every=7)
        port = server.sockets[0].getsockname()[1]
        spec = LoadSpec(f"http://127.0.0.1:{port}", "pk_x", 1, "r", 2, 100, 4, time.monotonic(), 0.0, 0.5)
        bodies = [orjson.dumps({"events": [{"n": i} for i in range(3)]}), orjson.dumps({"events": []})]
        async with server:
            result = await _closed_loop(spec, [_request(spec, body) for body in bodies])
        return result.requests, result.events, result.statuses, seen

    requests, events, statuses, seen = asyncio.run(run())
    assert requests > 10
    assert statuses.get(202, 0) * 3 == events
    assert set(statuses) <= {202, 400, -1}  # -1: a request the server closed the connection on
    assert statuses.get(400, 0) > 0
    assert all(b"Authorization: Bearer pk_x\r\n" in head for head in seen)
