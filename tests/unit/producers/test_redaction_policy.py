"""The redaction policy file: each format, the defaults, and a clear error for every mistake."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from feedback import cli
from producers.app import Collector
from producers.keys import KeyStore
from producers.redaction import ALL_KINDS, PiiKind, RedactionMode, RedactionPolicy
from producers.redaction_policy import RedactionPolicyError, TenantPolicies, hash_key_of, load_policies
from runtime.settings import Settings
from tests.unit.producers.fakes import SAMPLE_KEYS, AckingProducer

TOML = """
default = "mask"

[tenants.acme]
mode = "hash"
kinds = ["email", "phone"]
region = "de"

[tenants.tests]
mode = "off"
"""
JSON = '{"default": {"mode": "mask", "region": "GB"}, "tenants": {"acme": "hash", "tests": {"mode": "off"}}}'
YAML = """
default: mask
tenants:
  acme: {mode: hash, kinds: [email, phone]}
  tests: off-not-quoted
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toml_per_tenant_modes_kinds_and_region(tmp_path: Path) -> None:
    policies = load_policies(write(tmp_path, "policy.toml", TOML))
    assert policies.of("acme") == RedactionPolicy(RedactionMode.HASH, frozenset({PiiKind.EMAIL, PiiKind.PHONE}), "DE")
    assert policies.of("tests").mode is RedactionMode.OFF
    assert policies.of("anyone else") == RedactionPolicy()
    assert policies.hashing() == ["acme"]


def test_json_a_mode_alone_and_a_tenant_takes_what_it_leaves_out_from_the_default(tmp_path: Path) -> None:
    policies = load_policies(write(tmp_path, "policy.json", JSON))
    assert policies.of("acme") == RedactionPolicy(RedactionMode.HASH, ALL_KINDS, "GB")
    assert policies.of("other") == RedactionPolicy(region="GB")


def test_yaml(tmp_path: Path) -> None:
    text = YAML.replace("off-not-quoted", '"off"')  # YAML 1.1 reads a bare off as false
    policies = load_policies(write(tmp_path, "policy.yaml", text))
    assert policies.of("acme").kinds == {PiiKind.EMAIL, PiiKind.PHONE}
    assert policies.of("tests").mode is RedactionMode.OFF


def test_no_file_is_mask_for_everyone() -> None:
    assert load_policies(None) == TenantPolicies()
    assert load_policies(None).of("acme") == RedactionPolicy(RedactionMode.MASK, ALL_KINDS, "US")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.toml", 'default = "blur"', r"p.toml: default.mode: 'blur' is not a mode; expected mask, hash or off"),
        ("p.toml", "[tenants.acme]\nmode = 'hash'\nkind = ['email']", r"tenants.acme.kind: unknown field"),
        ("p.toml", "[tenants.acme]\nkinds = ['email', 'name']", r"tenants.acme.kinds\[1\]: 'name' is not a kind"),
        ("p.toml", "[tenants.acme]\nkinds = []", r"tenants.acme.kinds: must be a non-empty list"),
        ("p.toml", "[tenants.acme]\nregion = 'Mars'", r"tenants.acme.region: 'Mars' is not a region"),
        ("p.toml", "tenant = {}", r"tenant: unknown field \(expected default, tenants\)"),
        ("p.toml", "tenants = ['acme']", r"tenants: must be a table"),
        ("p.toml", "default = ", r"p.toml: not valid TOML"),
        ("p.json", '{"tenants": {"acme": 3}}', r"tenants.acme: must be a mode \(mask, hash, off\) or a table"),
        ("p.json", "[]", r"expected a table with default and tenants"),
        ("p.json", "{", r"not valid JSON"),
        ("p.yaml", YAML, r"tenants.tests.mode: 'off-not-quoted' is not a mode"),
        ("p.yaml", "tenants: [", r"not valid YAML"),
        ("p.ini", "", r"unknown format '.ini'; use .json, .toml or .yaml"),
    ],
)
def test_every_mistake_names_the_entry_and_the_rule(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(RedactionPolicyError, match=message):
        load_policies(write(tmp_path, name, text))


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(RedactionPolicyError, match="not found \\(FEEDBACK_REDACTION_POLICY_FILE\\)"):
        load_policies(tmp_path / "nope.toml")


def test_hash_mode_needs_a_long_enough_key(tmp_path: Path) -> None:
    policies = load_policies(write(tmp_path, "policy.toml", TOML))
    with pytest.raises(RedactionPolicyError, match=r"redaction mode hash \(acme\) needs FEEDBACK_REDACTION_HASH_KEY"):
        hash_key_of(policies, None)
    with pytest.raises(RedactionPolicyError, match="5 bytes, at least 16"):
        hash_key_of(policies, "short")
    assert hash_key_of(policies, "k" * 16) == b"k" * 16
    assert hash_key_of(TenantPolicies(), None) is None  # mask needs no key


def test_the_collector_refuses_to_start_in_hash_mode_without_a_key(tmp_path: Path) -> None:
    path = write(tmp_path, "policy.json", '{"default": "hash"}')
    keys = KeyStore.load(SAMPLE_KEYS)
    with pytest.raises(RedactionPolicyError, match=r"\(default\) needs FEEDBACK_REDACTION_HASH_KEY"):
        Collector(Settings(redaction_policy_file=path), keys, AckingProducer())
    collector = Collector(
        Settings(redaction_policy_file=path, redaction_hash_key=SecretStr("x" * 32)), keys, AckingProducer()
    )
    assert collector.redaction.policies.default.mode is RedactionMode.HASH


def test_feedback_collector_stops_with_one_line_before_touching_kafka(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FEEDBACK_REDACTION_POLICY_FILE", str(write(tmp_path, "policy.json", '{"default": "hash"}')))
    monkeypatch.delenv("FEEDBACK_REDACTION_HASH_KEY", raising=False)
    monkeypatch.setattr(cli, "ensure_topics", _must_not_run)
    monkeypatch.setattr(sys, "argv", ["feedback", "collector"])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 1
    assert capsys.readouterr().err.startswith("error: redaction mode hash (default) needs FEEDBACK_REDACTION_HASH_KEY")


def _must_not_run(*_args: object) -> None:
    raise AssertionError("Kafka was touched before the policy was checked")
