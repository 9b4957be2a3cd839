from __future__ import annotations

import json
from pathlib import Path

import pytest

from producers.errors import Forbidden, Unauthorized
from producers.keys import KeyKind, KeyStore, require_kind, write_dev_keys


def test_dev_keys_round_trip(tmp_path: Path) -> None:
    keys = write_dev_keys(tmp_path / "keys.json")
    store = KeyStore.load(tmp_path / "keys.json")
    public = store.authenticate(keys["public"])
    assert (public.kind, public.tenant) == (KeyKind.PUBLIC, "dev")
    assert store.authenticate(keys["admin"]).tenant is None


def test_kinds_and_origins() -> None:
    store = KeyStore.load(Path(__file__).parent / "keys.sample.json")
    public = store.authenticate("pk_1")
    assert require_kind(public, KeyKind.PUBLIC, KeyKind.SECRET) == "acme"
    with pytest.raises(Forbidden, match=r"^a public key may not do this; it needs a secret key$"):
        require_kind(public, KeyKind.SECRET)
    with pytest.raises(Forbidden, match=r"^an admin key may not do this; it needs a public or secret key$"):
        require_kind(store.authenticate("ak_1"), KeyKind.PUBLIC, KeyKind.SECRET)
    assert public.allows_origin("https://app.acme.com")
    assert not public.allows_origin("https://evil.example")
    assert public.allows_origin(None)  # not a browser


def test_missing_and_unknown_keys() -> None:
    store = KeyStore.load(Path(__file__).parent / "keys.sample.json")
    with pytest.raises(Unauthorized, match="missing"):
        store.authenticate(None)
    with pytest.raises(Unauthorized, match="unknown"):
        store.authenticate("pk_2")


def test_key_without_tenant_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"keys": [{"key": "x", "kind": "public"}]}))
    with pytest.raises(ValueError, match="needs a tenant"):
        KeyStore.load(path)
