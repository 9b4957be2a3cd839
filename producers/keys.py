"""API keys → tenants, from the keys file (docs/contract.md §2), reloaded when it changes.

Revoking a key is an edit of the file: a running collector sees it within
``FEEDBACK_KEYS_RELOAD_S`` seconds. An edit that breaks a rule is logged and ignored: the last
good keys stay in force (a typo must not lock every client out, nor let anyone in).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import structlog

from producers.errors import Forbidden, Unauthorized
from producers.key_kinds import TENANT_KINDS, ApiKey, KeyKind
from producers.keys_file import KeysFileError, read_keys_file, write_keys_file
from runtime.wording import article

__all__ = ["TENANT_KINDS", "ApiKey", "KeyKind", "KeyStore", "KeysFileError", "require_kind", "write_dev_keys"]

log = structlog.get_logger(__name__)

# What identifies a version of the file without reading it.
FileStamp = tuple[int, int, int]  # mtime_ns, size, inode


@dataclass(frozen=True)
class _Snapshot:
    """The keys of one version of the file, swapped in whole (readers never see half a reload)."""

    by_digest: dict[bytes, ApiKey]
    origins: frozenset[str]
    any_origin: bool

    @classmethod
    def of(cls, keys: list[ApiKey]) -> _Snapshot:
        # Browsers preflight with public keys; a secret key opens preflights only for origins it
        # lists (its empty list means "any origin" for servers, which send none and never preflight).
        public = [k for k in keys if k.kind is KeyKind.PUBLIC]
        listed = [k for k in keys if k.kind in (KeyKind.PUBLIC, KeyKind.SECRET)]
        return cls(
            # Looked up by digest, so the lookup time does not depend on how much of a guess matches.
            by_digest={_digest(k.key): k for k in keys},
            origins=frozenset(o for k in listed for o in k.origins),
            any_origin=any(not k.origins for k in public) or "*" in {o for k in listed for o in k.origins},
        )


class KeyStore:
    def __init__(self, keys: list[ApiKey], path: Path | None = None) -> None:
        self._snapshot = _Snapshot.of(keys)
        self._path = path
        self._stamp = _stamp(path) if path is not None else None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @classmethod
    def load(cls, path: Path) -> KeyStore:
        """The keys of ``path``; KeysFileError names the first entry that breaks a rule."""
        stamp = _stamp(path)
        store = cls(read_keys_file(path), path)
        store._stamp = stamp
        return store

    # -- reloading ----------------------------------------------------------------------------

    def reload_if_changed(self) -> bool:
        """Read the file again if it changed since last time; True when new keys are in force."""
        if self._path is None:
            return False
        stamp = _stamp(self._path)
        if stamp == self._stamp:
            return False
        self._stamp = stamp  # one error per bad version, not one per poll
        try:
            keys = read_keys_file(self._path)
        except (KeysFileError, FileNotFoundError) as exc:
            log.error("keys.reload_failed", error=str(exc), kept="the last good keys")
            return False
        self._snapshot = _Snapshot.of(keys)
        log.info("keys.reloaded", file=str(self._path), keys=len(keys))
        return True

    def watch(self, interval_s: float) -> None:
        """Poll the file's modification time every ``interval_s`` (0: never) in a daemon thread."""
        if interval_s <= 0 or self._path is None or self._watcher is not None:
            return

        def poll() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.reload_if_changed()
                except Exception:  # the watcher must outlive any surprise; the old keys stay
                    log.exception("keys.watch_failed")

        self._watcher = threading.Thread(target=poll, name="keys-watcher", daemon=True)
        self._watcher.start()

    def stop_watching(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    # -- lookups ------------------------------------------------------------------------------

    def authenticate(self, presented: str | None) -> ApiKey:
        if not presented:
            raise Unauthorized("missing API key: send Authorization: Bearer KEY (or api_key in the body)")
        api_key = self._snapshot.by_digest.get(_digest(presented))
        if api_key is None:
            raise Unauthorized("unknown API key")
        return api_key

    def any_allows_origin(self, origin: str) -> bool:
        """Whether a browser on this origin may use some key (for preflights, which carry none)."""
        snapshot = self._snapshot
        return snapshot.any_origin or origin in snapshot.origins

    def all(self) -> list[ApiKey]:
        return list(self._snapshot.by_digest.values())

    def first(self, kind: KeyKind) -> ApiKey | None:
        return next((k for k in self._snapshot.by_digest.values() if k.kind is kind), None)


def _stamp(path: Path) -> FileStamp:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return (0, -1, 0)
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def require_kind(api_key: ApiKey, *kinds: KeyKind) -> str:
    """The key's tenant, if its kind may do this; else 403."""
    if api_key.kind not in kinds:
        allowed = " or ".join(k.value for k in kinds)
        raise Forbidden(f"{article(api_key.kind.value)} key may not do this; it needs {article(allowed)} key")
    return api_key.tenant or ""


def write_dev_keys(path: Path, tenant: str = "dev") -> dict[str, str]:
    """Create a keys file (mode 0600) with one key of each kind for a dev tenant (used by ``make up``)."""
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
    write_keys_file(path, document)
    return keys
