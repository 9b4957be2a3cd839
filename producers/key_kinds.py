"""What an API key is: its kind (what it may do), its tenant and the browser origins it allows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class KeyKind(StrEnum):
    PUBLIC = "public"  # browser-safe: events only
    SECRET = "secret"  # noqa: S105 (a kind of key, not a password); server side: events and traces
    ADMIN = "admin"  # no tenant: the operator's key (read-only queries over every tenant, replay)
    ANALYST = "analyst"  # one tenant: read-only queries that see only that tenant's rows


# The kinds bound to one tenant; the others (admin) have none.
TENANT_KINDS = frozenset({KeyKind.PUBLIC, KeyKind.SECRET, KeyKind.ANALYST})


@dataclass(frozen=True)
class ApiKey:
    key: str
    kind: KeyKind
    tenant: str | None = None
    origins: tuple[str, ...] = ()

    def allows_origin(self, origin: str | None) -> bool:
        """Browsers send Origin; a key with an origins list only accepts those (``*`` any)."""
        if origin is None or not self.origins:
            return True
        return "*" in self.origins or origin in self.origins

    def __repr__(self) -> str:
        # Never the key itself: reprs end up in logs and tracebacks.
        return f"ApiKey(kind={self.kind.value}, tenant={self.tenant!r}, origins={self.origins!r})"
