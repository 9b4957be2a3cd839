"""The keys file: strict at start, reloaded when it changes, written for its owner only."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from producers.errors import Unauthorized
from producers.keys import KeysFileError, KeyStore, write_dev_keys
from tests.helpers import wait_for

PK = {"key": "pk_b", "tenant": "acme", "kind": "public"}
GOOD: list[dict[str, Any]] = [
    {"key": "pk_a", "tenant": "acme", "kind": "public", "origins": ["https://app.acme.com"]},
    {"key": "sk_a", "tenant": "acme", "kind": "secret"},
    {"key": "ak_a", "kind": "admin"},
    {"key": "an_a", "tenant": "acme", "kind": "analyst"},
]


def write(path: Path, keys: Any) -> Path:
    path.write_text(json.dumps({"keys": keys}))
    return path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"key": None, "tenant": "acme", "kind": "public"}, "keys[4].key: must be a non-empty string"),
        ({"key": "", "tenant": "acme", "kind": "public"}, "keys[4].key: must be a non-empty string"),
        ({"key": "  ", "tenant": "acme", "kind": "public"}, "keys[4].key: must be a non-empty string"),
        (PK | {"origins": "https://a.com"}, "keys[4].origins: must be a list of strings"),
        (PK | {"origins": [1]}, "keys[4].origins: must be a list of strings"),
        (PK | {"origins": ["https://a.com/"]}, "keys[4].origins[0]: 'https://a.com/' is not an origin"),
        ({"key": "sk_a", "tenant": "globex", "kind": "secret"}, "keys[4].key: duplicate of keys[1]"),
        ({"key": "xk", "tenant": "acme", "kind": "superuser"}, "keys[4].kind: must be one of public, secret, admin"),
        ({"key": "xk", "tenant": "acme"}, "keys[4].kind: must be one of"),
        ({"key": "pk_b", "kind": "public"}, "keys[4].tenant: a public key needs a tenant"),
        ({"key": "sk_b", "tenant": "", "kind": "secret"}, "keys[4].tenant: a secret key needs a tenant"),
        ({"key": "an_b", "kind": "analyst"}, "keys[4].tenant: an analyst key needs a tenant"),
        ({"key": "ak_b", "tenant": "acme", "kind": "admin"}, "keys[4].tenant: an admin key has no tenant"),
        (PK | {"orgins": []}, "keys[4].orgins: unknown field"),
        ("pk_b", "keys[4]: must be an object"),
    ],
)  # fmt: skip
def test_every_bad_entry_is_one_clear_error_naming_it(tmp_path: Path, entry: Any, message: str) -> None:
    path = write(tmp_path / "keys.json", [*GOOD, entry])
    with pytest.raises(KeysFileError) as raised:
        KeyStore.load(path)
    assert str(raised.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not valid JSON"), ("[]", 'expected {"keys": [...]}'), ('{"keys": {}}', 'expected {"keys": [...]}')],
)
def test_a_bad_document_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(text)
    with pytest.raises(KeysFileError) as raised:
        KeyStore.load(path)
    assert str(raised.value).startswith(f"{path}: {message}")


def test_a_good_file_loads_every_kind(tmp_path: Path) -> None:
    store = KeyStore.load(write(tmp_path / "keys.json", GOOD))
    assert {k.kind.value for k in store.all()} == {"public", "secret", "admin", "analyst"}
    assert "pk_a" not in repr(store.authenticate("pk_a"))  # reprs reach logs


def test_a_revoked_key_stops_working_without_a_restart(tmp_path: Path) -> None:
    path = write(tmp_path / "keys.json", GOOD)
    store = KeyStore.load(path)
    store.watch(0.05)
    try:
        assert store.authenticate("sk_a").tenant == "acme"
        revoked = [k for k in GOOD if k["key"] != "sk_a"] + [{"key": "sk_new", "tenant": "acme", "kind": "secret"}]
        replacement = tmp_path / "keys.json.new"
        write(replacement, revoked)
        os.replace(replacement, path)  # how editors and config management write files
        wait_for(lambda: _refused(store, "sk_a"), 10, 0.05, what="the revoked key refused")
        assert store.authenticate("sk_new").tenant == "acme"
    finally:
        store.stop_watching()


def test_a_bad_edit_keeps_the_last_good_keys_and_logs_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "keys.json", GOOD)
    store = KeyStore.load(path)
    write(path, [*GOOD, {"key": "pk_c", "tenant": "acme", "kind": "public", "origins": "*"}])
    os.utime(path, ns=(1, 1))  # a new version even on a coarse clock
    assert store.reload_if_changed() is False
    assert store.reload_if_changed() is False  # the same bad version: logged once
    logged = capsys.readouterr().err  # the logs, as configured by tests/conftest.py
    assert logged.count("keys.reload_failed") == 1
    assert "keys[4].origins: must be a list of strings" in logged
    assert store.authenticate("sk_a").tenant == "acme"
    with pytest.raises(Unauthorized):
        store.authenticate("pk_c")
    path.unlink()
    assert store.reload_if_changed() is False  # a deleted file keeps the keys too
    assert store.authenticate("sk_a").tenant == "acme"


def test_dev_keys_are_written_for_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "dir" / "keys.json"
    keys = write_dev_keys(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyStore.load(path).authenticate(keys["secret"]).tenant == "dev"


def _refused(store: KeyStore, key: str) -> bool:
    try:
        store.authenticate(key)
    except Unauthorized:
        return True
    return False
