"""CORS for browsers: per-key allowed origins (docs/contract.md §2, keys file, ``origins``).

An origin is echoed in ``Access-Control-Allow-Origin`` only when a key allows it: on a POST, the
key that signed the request (so a page on another origin cannot read even the error of a key it
stole); on a preflight, which carries no key, any key of the keys file.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from producers.keys import ApiKey, KeyStore

ALLOWED_HEADERS = "authorization, content-type, content-encoding"
MAX_AGE_S = "600"


def preflight(request: Request, keys: KeyStore) -> Response:
    """Answer OPTIONS. Browsers send no Authorization at preflight, so the origin passes here if
    some key allows it, and is checked again on the POST against the key that comes with it."""
    origin = request.headers.get("origin")
    headers = {
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": MAX_AGE_S,
        "Vary": "Origin",
    }
    if origin and keys.any_allows_origin(origin):
        headers["Access-Control-Allow-Origin"] = origin
    return Response(status_code=204, headers=headers)


def allow_origin(response: Response, origin: str | None, api_key: ApiKey | None) -> Response:
    """Let the page read this answer if the request's key allows its origin."""
    response.headers["Vary"] = "Origin"
    if origin and api_key is not None and api_key.allows_origin(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response
