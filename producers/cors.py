"""CORS for browsers: per-key allowed origins (docs/contract.md §2, keys file, ``origins``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

ALLOWED_HEADERS = "authorization, content-type, content-encoding"
MAX_AGE_S = "600"


def preflight(request: Request) -> Response:
    """Answer OPTIONS. The key is unknown at preflight (browsers send no Authorization then),
    so the origin is checked on the POST itself, against the key's ``origins``."""
    origin = request.headers.get("origin")
    headers = {
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": MAX_AGE_S,
        "Vary": "Origin",
    }
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
    return Response(status_code=204, headers=headers)


def allow_origin(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        response.headers["Vary"] = "Origin"
    return response
