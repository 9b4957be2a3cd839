"""API keys → tenants, from the keys file (docs/contract.md §2)."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from producers.errors import Forbidden, Unauthorized


class KeyKind(StrEnum):
    PUBLIC = "public"  # browser-safe: events only
    SECRET = "secret"  # noqa: S105 (a kind of key, not a password); server side: events and traces
    ADMIN = "admin"  # no tenant: the operator's key (read-only queries over every tenant, replay)
    ANALYST = "analyst"  # one tenant: read-only queries that see only that tenant's rows


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


class KeyStore:
    def __init__(self, keys: list[ApiKey]) -> None:
        # Looked up by digest, so the lookup time does not depend on how much of a guess matches.
        self._keys = {_digest(k.key): k for k in keys}

    @classmethod
    def load(cls, path: Path) -> KeyStore:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"keys file {path} not found (FEEDBACK_KEYS_FILE); `make up` creates one") from None
        keys = []
        for index, entry in enumerate(data.get("keys", [])):
            try:
                kind = KeyKind(entry["kind"])
                key = ApiKey(
                    key=str(entry["key"]),
                    kind=kind,
                    tenant=entry.get("tenant"),
                    origins=tuple(entry.get("origins", ())),
                )
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path}: keys.{index}: {exc}") from exc
            if kind is not KeyKind.ADMIN and not key.tenant:
                raise ValueError(f"{path}: keys.{index}: a {kind} key needs a tenant")
            keys.append(key)
        return cls(keys)

    def authenticate(self, presented: str | None) -> ApiKey:
        if not presented:
            raise Unauthorized("missing API key: send Authorization: Bearer KEY (or api_key in the body)")
        api_key = self._keys.get(_digest(presented))
        if api_key is None:
            raise Unauthorized("unknown API key")
        return api_key

    def all(self) -> list[ApiKey]:
        return list(self._keys.values())

    def first(self, kind: KeyKind) -> ApiKey | None:
        return next((k for k in self._keys.values() if k.kind is kind), None)


def _article(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def require_kind(api_key: ApiKey, *kinds: KeyKind) -> str:
    """The key's tenant, if its kind may do this; else 403."""
    if api_key.kind not in kinds:
        allowed = " or ".join(k.value for k in kinds)
        raise Forbidden(f"{_article(api_key.kind.value)} key may not do this; it needs {_article(allowed)} key")
    return api_key.tenant or ""


def write_dev_keys(path: Path, tenant: str = "dev") -> dict[str, str]:
    """Create a keys file with one key of each kind for a dev tenant (used by ``make up``)."""
    keys = {
        "public": f"pk_{tenant}_{secrets.token_hex(12)}",
        "secret": f"sk_{tenant}_{secrets.token_hex(12)}",
        "analyst": f"an_{tenant}_{secrets.token_hex(12)}",
        "admin": f"ak_{secrets.token_hex(12)}",
    }
    document = {
        "keys": [
            {"key": keys["public"], "tenant": tenant, "kind": "public", "origins": ["*"]},
            {"key": keys["secret"], "tenant": tenant, "kind": "secret"},
            {"key": keys["analyst"], "tenant": tenant, "kind": "analyst"},
            {"key": keys["admin"], "kind": "admin"},
        ]
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return keys
