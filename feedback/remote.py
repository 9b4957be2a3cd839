"""Asking the running pipeline (its collector's admin endpoints) from the command line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx


def post_to_pipeline(
    http_addr: str,
    path: str,
    key: str,
    body: Any = None,
    *,
    timeout: httpx.Timeout | float,
    failure: Callable[[str], Exception],
) -> httpx.Response:
    """POST ``body`` (JSON) to the running pipeline's collector as ``key``; a collector that does
    not answer raises ``failure`` with a message naming it. The caller reads the answer."""
    try:
        return httpx.post(
            f"http://{http_addr}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise failure(f"the running collector at {http_addr} did not answer: {exc}") from exc


def error_of(response: httpx.Response) -> str:
    """The error a collector answered with: its ``{"error": ...}`` message, else status and text.
    Reads a streamed response first."""
    response.read()
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return f"{response.status_code} {response.text}"
