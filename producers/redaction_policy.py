"""Each tenant's redaction policy, from the policy file (FEEDBACK_REDACTION_POLICY_FILE).

The file is JSON, TOML or YAML (by its extension) and read strictly, like the keys file: every
mistake is refused at start with one error naming the entry and the rule (docs/contract.md,
"Redaction")::

    default = "mask"                 # mask | hash | off, or a table like a tenant's

    [tenants.acme]
    mode = "hash"
    kinds = ["email", "phone"]       # optional: the kinds looked for (default: all six)
    region = "DE"                    # optional: where national phone numbers are read as local

    [tenants.internal-tests]
    mode = "off"

Without a file every tenant gets ``mask`` for every kind. ``hash`` needs a key
(FEEDBACK_REDACTION_HASH_KEY): without one the collector refuses to start.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from producers.redaction import ALL_KINDS, PiiKind, RedactionMode, RedactionPolicy

POLICY_FIELDS = ("mode", "kinds", "region")
FILE_FIELDS = ("default", "tenants")
MIN_HASH_KEY_BYTES = 16


class RedactionPolicyError(ValueError):
    """The policy file is unreadable or breaks a rule, or hash mode has no key; the message says which."""


@dataclass(frozen=True)
class TenantPolicies:
    """The default policy and the tenants' own."""

    default: RedactionPolicy = field(default_factory=RedactionPolicy)
    tenants: dict[str, RedactionPolicy] = field(default_factory=dict)

    def of(self, tenant: str) -> RedactionPolicy:
        return self.tenants.get(tenant, self.default)

    def hashing(self) -> list[str]:
        """Who is in hash mode: ``default`` and tenant names."""
        named = [name for name, policy in sorted(self.tenants.items()) if policy.mode is RedactionMode.HASH]
        return (["default"] if self.default.mode is RedactionMode.HASH else []) + named


def load_policies(path: Path | None) -> TenantPolicies:
    """The policies of the file at ``path``; with no path, ``mask`` for everyone."""
    if path is None:
        return TenantPolicies()
    return parse_policies(_read(path), str(path))


def _read(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RedactionPolicyError(f"redaction policy file {path} not found (FEEDBACK_REDACTION_POLICY_FILE)") from None
    except OSError as exc:
        raise RedactionPolicyError(f"{path}: cannot read ({exc.strerror})") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        kind = {".json": "JSON", ".toml": "TOML"}.get(suffix, "YAML")
        raise RedactionPolicyError(f"{path}: not valid {kind} ({_one_line(exc)})") from None
    raise RedactionPolicyError(f"{path}: unknown format {suffix or '(no extension)'!r}; use .json, .toml or .yaml")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def parse_policies(document: Any, where: str) -> TenantPolicies:
    if not isinstance(document, dict):
        raise RedactionPolicyError(f"{where}: expected a table with default and tenants")
    unknown = sorted(set(document) - set(FILE_FIELDS))
    if unknown:
        raise RedactionPolicyError(f"{where}: {unknown[0]}: unknown field (expected {', '.join(FILE_FIELDS)})")
    default = _policy(document.get("default", RedactionMode.MASK.value), f"{where}: default", RedactionPolicy())
    tenants_raw = document.get("tenants", {})
    if not isinstance(tenants_raw, dict):
        raise RedactionPolicyError(f"{where}: tenants: must be a table of tenant name to policy")
    tenants = {}
    for name, entry in tenants_raw.items():
        if not isinstance(name, str) or not name.strip():
            raise RedactionPolicyError(f"{where}: tenants: a tenant name must be a non-empty string")
        # What a tenant leaves out it takes from the default (its region, its kinds).
        tenants[name] = _policy(entry, f"{where}: tenants.{name}", default)
    return TenantPolicies(default, tenants)


def _policy(entry: Any, where: str, base: RedactionPolicy) -> RedactionPolicy:
    """A policy: a mode alone (``"hash"``) or a table of mode, kinds and region."""
    if isinstance(entry, str):
        entry = {"mode": entry}
    if not isinstance(entry, dict):
        raise RedactionPolicyError(
            f"{where}: must be a mode (mask, hash, off) or a table of {', '.join(POLICY_FIELDS)}"
        )
    unknown = sorted(set(entry) - set(POLICY_FIELDS))
    if unknown:
        raise RedactionPolicyError(f"{where}.{unknown[0]}: unknown field (expected {', '.join(POLICY_FIELDS)})")
    mode = entry.get("mode", base.mode.value)
    if mode not in tuple(RedactionMode):
        raise RedactionPolicyError(f"{where}.mode: {mode!r} is not a mode; expected mask, hash or off")
    return RedactionPolicy(
        mode=RedactionMode(mode),
        kinds=_kinds(entry["kinds"], f"{where}.kinds") if "kinds" in entry else base.kinds,
        region=_region(entry["region"], f"{where}.region") if "region" in entry else base.region,
    )


def _kinds(value: Any, where: str) -> frozenset[PiiKind]:
    expected = ", ".join(kind.value for kind in PiiKind)
    if not isinstance(value, list) or not value:
        raise RedactionPolicyError(f"{where}: must be a non-empty list of kinds ({expected}); use mode off for none")
    kinds = set()
    for index, name in enumerate(value):
        if name not in ALL_KINDS:
            raise RedactionPolicyError(f"{where}[{index}]: {name!r} is not a kind; expected one of {expected}")
        kinds.add(PiiKind(name))
    return frozenset(kinds)


def _region(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise RedactionPolicyError(
            f"{where}: {value!r} is not a region; use a two-letter country code such as US or DE"
        )
    return value.upper()


def hash_key_of(policies: TenantPolicies, key: str | None) -> bytes | None:
    """The hashing key as bytes; refuses a policy in hash mode without one (or with a short one)."""
    hashing = policies.hashing()
    if key is None or key == "":
        if hashing:
            raise RedactionPolicyError(
                f"redaction mode hash ({', '.join(hashing)}) needs FEEDBACK_REDACTION_HASH_KEY: a secret of at "
                f"least {MIN_HASH_KEY_BYTES} bytes, the same on every collector (e.g. `openssl rand -hex 32`)"
            )
        return None
    raw = key.encode()
    if len(raw) < MIN_HASH_KEY_BYTES:
        raise RedactionPolicyError(
            f"FEEDBACK_REDACTION_HASH_KEY: {len(raw)} bytes, at least {MIN_HASH_KEY_BYTES} are needed "
            "(a short key lets anyone try every e-mail address or phone number against the hashes)"
        )
    return raw
