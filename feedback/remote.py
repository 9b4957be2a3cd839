"""Asking the running pipeline (its collector's admin endpoints) from the command line."""

from __future__ import annotations

import httpx


def error_of(response: httpx.Response) -> str:
    """The error a collector answered with: its ``{"error": ...}`` message, else status and text.
    Reads a streamed response first."""
    response.read()
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return f"{response.status_code} {response.text}"
