"""Personal data found and replaced; texts without any come out byte-identical."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.redaction import PiiKind, RedactionMode, RedactionPolicy, Redactor

MASK = RedactionPolicy()
HASH = RedactionPolicy(RedactionMode.HASH)
redactor = Redactor(b"test-key")


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("write to jane.doe+work@mail.example.co.uk please", "jane.doe+work@mail.example.co.uk", PiiKind.EMAIL),
        ("call +44 20 7946 0958 after 5", "+44 20 7946 0958", PiiKind.PHONE),
        ("call (415) 555-2671 tomorrow", "(415) 555-2671", PiiKind.PHONE),
        ("ruf mich an: +49 30 901820", "+49 30 901820", PiiKind.PHONE),
        ("card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111", PiiKind.CARD),
        ("card 5500-0000-0000-0004", "5500-0000-0000-0004", PiiKind.CARD),
        ("pay to DE89 3704 0044 0532 0130 00 today", "DE89 3704 0044 0532 0130 00", PiiKind.IBAN),
        ("pay to GB82WEST12345698765432", "GB82WEST12345698765432", PiiKind.IBAN),
        ("from 203.0.113.77 again", "203.0.113.77", PiiKind.IP),
        ("from 2001:db8:85a3::8a2e:370:7334 again", "2001:db8:85a3::8a2e:370:7334", PiiKind.IP),
        (
            "my key sk-proj-Abcdefghijklmnopqrstuvwx12345 leaked",
            "sk-proj-Abcdefghijklmnopqrstuvwx12345",
            PiiKind.SECRET,
        ),
        ("AKIAIOSFODNN7EXAMPLE is the id", "AKIAIOSFODNN7EXAMPLE", PiiKind.SECRET),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", PiiKind.SECRET),
        ("config: password=hunter2hunter2 ok", "hunter2hunter2", PiiKind.SECRET),
    ],
)
def test_each_kind_is_found_and_masked(text: str, value: str, kind: PiiKind) -> None:
    redacted, kinds = redactor.redact(text, MASK)
    assert value not in redacted
    assert f"[{kind}]" in redacted
    assert kind in kinds


@pytest.mark.parametrize(
    "text",
    [
        "This answer hallucinated a citation and ignored my instructions.",
        "The 3 steps in section 4.2 took 15 minutes; see page 12 of the 2024 report.",
        "Order #12345678 shipped: 3 items for $1,234,567.89 at 10:30:15.",
        "version 1.2.3.4.5 and 999.1.1.1 are not addresses",
        "card-like but not Luhn: 4111 1111 1111 1112",
        "Ünïcødé, emoji 🙂 and a URL https://example.com/path?q=1",
        "",
    ],
)
def test_texts_without_personal_data_are_byte_identical(text: str) -> None:
    assert redactor.redact(text, MASK) == (text, frozenset())


def test_hash_mode_is_keyed_and_stable_so_joins_still_work() -> None:
    first, _ = redactor.redact("mail Jane@Example.com", HASH)
    again, _ = redactor.redact("mail jane@example.com", HASH)
    assert first == again
    assert "jane" not in first.lower()
    assert first.startswith("mail [email:")
    other_key, _ = Redactor(b"another key").redact("mail jane@example.com", HASH)
    assert other_key != first


def test_off_leaves_everything() -> None:
    text = "jane@example.com 4111 1111 1111 1111"
    assert redactor.redact(text, RedactionPolicy(RedactionMode.OFF)) == (text, frozenset())


def test_national_phone_numbers_follow_the_tenants_region() -> None:
    text = "ring 030 901820 tonight"
    assert redactor.redact(text, RedactionPolicy(region="DE"))[0] == "ring [phone] tonight"


@given(st.text(max_size=300))
def test_redacting_twice_changes_nothing_more(text: str) -> None:
    once, _ = redactor.redact(text, MASK)
    assert redactor.redact(once, MASK)[0] == once


@pytest.mark.parametrize(
    "text",
    [
        "use std::vector and Foo::Bar, or a::b",  # C++ and Rust paths are not IPv6 addresses
        "dead::beef and ::1",
        "ts 1732901234567 and order 8000000000000009",  # Luhn-valid, but no card issuer's range
        "MAC 00:1A:2B:3C:4D:5E at 10:30:15 on 2024-08-06",
        "max_tokens: 12345678 and input_tokens=4096",
        "a secret: it works",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert redactor.redact(text, MASK) == (text, frozenset())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from 203.0.113.77.", "from [ip]."),
        ("card 4111111111111111.", "card [card]."),
        ("at 2001:db8::1: ok", "at [ip]: ok"),
        ('{"api_key": "abcdefgh12345"}', '{"api_key": "[secret]"}'),
        ("client_secret=Zx9-long-value", "client_secret=[secret]"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", "Authorization: Bearer [secret]"),
        ("mail jane@example.com, then call +1 415 555 2671.", "mail [email], then call [phone]."),
        ("a@b.co", "[email]"),
        ("Tel:+44 20 7946 0958, fax: (415) 555-2671", "Tel:[phone], fax: [phone]"),
        ("phone=4155552671;", "phone=[phone];"),
    ],
)
def test_boundaries_of_findings(text: str, expected: str) -> None:
    assert redactor.redact(text, MASK)[0] == expected


def test_an_address_digits_are_not_read_again_as_a_number() -> None:
    text = "write to 4155552671@example.com"
    assert redactor.redact(text, MASK) == ("write to [email]", frozenset({PiiKind.EMAIL}))


def test_hash_placeholders_are_never_scanned_again() -> None:
    text = "mail jane@example.com, card 4111 1111 1111 1111, from 203.0.113.77, call +44 20 7946 0958"
    once, kinds = redactor.redact(text, HASH)
    assert kinds == {PiiKind.EMAIL, PiiKind.CARD, PiiKind.IP, PiiKind.PHONE}
    assert redactor.redact(once, HASH) == (once, frozenset())


def test_hash_normalises_each_kind() -> None:
    def token(text: str) -> str:
        return redactor.redact(text, HASH)[0]

    assert token("4111 1111 1111 1111") == token("4111-1111-1111-1111")
    assert token("+44 20 7946 0958") == token("+442079460958")
    assert token("DE89 3704 0044 0532 0130 00") == token("DE89370400440532013000")


def test_a_policy_looks_only_for_its_kinds() -> None:
    policy = RedactionPolicy(kinds=frozenset({PiiKind.EMAIL}))
    text = "jane@example.com from 203.0.113.77"
    assert redactor.redact(text, policy) == ("[email] from 203.0.113.77", frozenset({PiiKind.EMAIL}))


def test_hash_mode_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match="FEEDBACK_REDACTION_HASH_KEY"):
        Redactor(None).redact("jane@example.com", HASH)


def test_long_runs_of_address_characters_stay_fast() -> None:
    # Unbounded quantifiers would take quadratic time here; a wrong regex shows as a test timeout.
    text = "a" * 200_000 + "@"
    assert redactor.redact(text, MASK) == (text, frozenset())
