"""Reading the keys file strictly: every mistake is one error naming the entry and the rule.

A typo in a keys file must not quietly turn into a key that means something else (an ``admin``
key with a tenant, a public key whose ``origins`` is a string and so allows nothing or everything),
so anything unexpected is refused at start and on each reload.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from producers.key_kinds import TENANT_KINDS, ApiKey, KeyKind
from runtime.wording import article

FIELDS = ("key", "kind", "tenant", "origins")
# An origin as browsers send it: scheme://host[:port], no path; or * for any.
ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s?#]+$")


class KeysFileError(ValueError):
    """The keys file is unreadable or breaks a rule; the message names the entry."""


def read_keys_file(path: Path) -> list[ApiKey]:
    """Every key of the file, or KeysFileError (FileNotFoundError when there is no file)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"keys file {path} not found (FEEDBACK_KEYS_FILE); `make up` creates one") from None
    except OSError as exc:
        raise KeysFileError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeysFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeysFileError(f'{path}: expected {{"keys": [...]}}')
    keys: list[ApiKey] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(document["keys"]):
        where = f"{path}: keys[{index}]"
        key = parse_entry(entry, where)
        if key.key in seen:
            raise KeysFileError(f"{where}.key: duplicate of keys[{seen[key.key]}]")
        seen[key.key] = index
        keys.append(key)
    return keys


def parse_entry(entry: Any, where: str) -> ApiKey:
    if not isinstance(entry, dict):
        raise KeysFileError(f"{where}: must be an object with key, kind, tenant, origins")
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise KeysFileError(f"{where}.{unknown[0]}: unknown field (expected {', '.join(FIELDS)})")
    key = entry.get("key")
    if not isinstance(key, str) or not key.strip():
        raise KeysFileError(f"{where}.key: must be a non-empty string")
    if key != key.strip():
        raise KeysFileError(f"{where}.key: must not start or end with whitespace")
    kind_name = entry.get("kind")
    if kind_name not in tuple(KeyKind):
        raise KeysFileError(f"{where}.kind: must be one of {', '.join(k.value for k in KeyKind)}")
    kind = KeyKind(kind_name)
    tenant = entry.get("tenant")
    if kind in TENANT_KINDS:
        if not isinstance(tenant, str) or not tenant.strip():
            raise KeysFileError(f"{where}.tenant: {article(kind.value)} key needs a tenant (a non-empty string)")
    elif tenant is not None:
        raise KeysFileError(f"{where}.tenant: {article(kind.value)} key has no tenant (it sees every tenant)")
    origins = entry.get("origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise KeysFileError(f"{where}.origins: must be a list of strings")
    for position, origin in enumerate(origins):
        if origin != "*" and not ORIGIN.match(origin):
            raise KeysFileError(
                f"{where}.origins[{position}]: {origin!r} is not an origin: use scheme://host[:port] "
                "without a path (e.g. https://app.example.com), or * for any"
            )
    return ApiKey(key=key, kind=kind, tenant=tenant, origins=tuple(origins))


def write_keys_file(path: Path, document: dict[str, Any]) -> None:
    """Write a keys file readable by its owner only (0600), creating its directory if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(fd, 0o600)  # also when the file existed with a wider mode
        out.write(json.dumps(document, indent=2) + "\n")
