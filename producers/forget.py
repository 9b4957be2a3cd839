"""``POST /v1/forget`` (docs/contract.md §3): erase one user of a tenant, on the operator's request.

A secret key erases users of its own tenant (``tenant`` may be left out, or must be its own); the
admin key names the tenant. The erasure itself is not the collector's: it is handed a function
(``feedback.erasure``, wired in ``feedback.services``) that removes the user and answers what it
removed per table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from producers.errors import BadRequest, Forbidden
from producers.keys import ApiKey, KeyKind, require_kind

# (tenant, user, requested_by) → the erasure's JSON answer; raises ValueError on a bad request
Forget = Callable[[str, str, str], dict[str, Any]]
MAX_ID_LENGTH = 128


def forget_request(api_key: ApiKey, body: dict[str, Any]) -> tuple[str, str, str]:
    """The tenant and user to erase, and who asks; 400/403 naming the field otherwise."""
    own = require_kind(api_key, KeyKind.SECRET, KeyKind.ADMIN)
    tenant = body.get("tenant")
    if tenant is not None and (not isinstance(tenant, str) or not tenant):
        raise BadRequest("tenant: a non-empty string, or left out with a secret key (its own tenant)")
    if api_key.kind is KeyKind.SECRET:
        if tenant is not None and tenant != own:
            raise Forbidden(f"tenant: a secret key of tenant {own!r} may only erase users of {own!r}")
        tenant, by = own, f"secret:{own}"
    elif tenant is None:
        raise BadRequest("tenant: required with the admin key")
    else:
        by = "admin"
    user = body.get("user")
    if not isinstance(user, str) or not user.strip():
        raise BadRequest("user: required, the user_id to erase (a non-empty string)")
    if len(user) > MAX_ID_LENGTH or len(tenant) > MAX_ID_LENGTH:
        raise BadRequest(f"{'user' if len(user) > MAX_ID_LENGTH else 'tenant'}: at most {MAX_ID_LENGTH} characters")
    return tenant, user, by
