"""Personal data out of free text before it reaches Kafka: e-mail addresses, phone numbers, payment
cards, IBANs, IP addresses and API-key-like secrets.

Each kind is found by what recognises it best: a pattern for the shape, then the kind's own check
where one exists (Luhn for cards, ISO 13616 for IBANs via python-stdnum, ``ipaddress`` for IPs,
Google's libphonenumber port for phone numbers in every country's format). A text is scanned
only for kinds it can hold — no digit, no card — so a text without personal data costs a few
fast regex scans and comes out byte-identical.

Modes (per tenant): ``mask`` writes ``[email]``, ``[phone]``, …; ``hash`` writes
``[email:3f9a0c1d2b7e]``, a keyed HMAC of the normalised value, so the same address hashes alike
across events and joins still work while the value cannot be read back; ``off`` leaves text as is.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from stdnum import iban, luhn


class PiiKind(StrEnum):
    SECRET = "secret"  # noqa: S105 (a kind of data, not a password)
    EMAIL = "email"
    IBAN = "iban"
    CARD = "card"
    IP = "ip"
    PHONE = "phone"


class RedactionMode(StrEnum):
    MASK = "mask"
    HASH = "hash"
    OFF = "off"


_SECRET = re.compile(
    r"""
      \b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}      # Stripe-style
    | \bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}            # OpenAI / Anthropic-style
    | \bA(?:KIA|SIA)[0-9A-Z]{16}\b                       # AWS access key id
    | \bgh[pousr]_[A-Za-z0-9]{30,}                       # GitHub tokens
    | \bgithub_pat_[A-Za-z0-9_]{30,}
    | \bxox[abprs]-[A-Za-z0-9\-]{10,}                    # Slack
    | \bAIza[0-9A-Za-z_\-]{35}                           # Google API key
    | \beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}   # JWT
    | -----BEGIN[ A-Z]*PRIVATE\ KEY-----[\s\S]*?-----END[ A-Z]*PRIVATE\ KEY-----
    """,
    re.VERBOSE,
)
# Literal pieces one of the shapes above must contain: a text without any is not scanned.
_SECRET_MARKS = re.compile(r"[spr]k_|sk-|A[KS]IA|gh[pousr]_|github_pat_|xox|AIza|eyJ|PRIVATE KEY")
# Something any finding needs: a text without one of these is returned as it is, unscanned.
_GATE = re.compile(r"[@:=]|\d.*\d|[spr]k[_-]|A[KS]IA|gh[pousr]_|github_pat_|xox|AIza|eyJ|PRIVATE KEY", re.DOTALL)
# ``api_key = …``, ``password: …``: the value goes, the name stays.
_ASSIGNED_SECRET = re.compile(
    r"(?P<name>\b(?:api[_-]?key|secret|token|password|passwd)\s*[:=]\s*[\"']?)(?P<value>[^\s\"',;]{8,})", re.IGNORECASE
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\d.])\d(?:[ \-]?\d){12,18}(?![\d.])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
_PHONE_DIGITS = re.compile(r"(?:\d\D{0,3}){7}")


@dataclass(frozen=True)
class RedactionPolicy:
    """How one tenant's texts are treated; ``region`` is where national phone numbers (without
    a ``+`` country code) are read as local ones."""

    mode: RedactionMode = RedactionMode.MASK
    region: str = "US"


class Redactor:
    """Finds and replaces personal data in texts; one per process (holds the hashing key)."""

    def __init__(self, hash_key: bytes) -> None:
        self._hash_key = hash_key

    def redact(self, text: str, policy: RedactionPolicy) -> tuple[str, frozenset[PiiKind]]:
        """The text with every finding replaced, and the kinds found (empty: text unchanged)."""
        if policy.mode is RedactionMode.OFF or not _GATE.search(text):
            return text, frozenset()
        found: set[PiiKind] = set()

        def replace(kind: PiiKind, value: str) -> str:
            found.add(kind)
            return self._placeholder(kind, value, policy.mode)

        if ("=" in text or ":" in text) and _ASSIGNED_SECRET.search(text):
            text = _ASSIGNED_SECRET.sub(lambda m: m["name"] + replace(PiiKind.SECRET, m["value"]), text)
        for kind, pattern, valid in self._scans(text):

            def one(match: re.Match[str], kind: PiiKind = kind, valid: Callable[[str], bool] = valid) -> str:
                value = match.group()
                return replace(kind, value) if valid(value) else value

            text = pattern.sub(one, text)
        if _PHONE_DIGITS.search(text):
            text = self._phones(text, policy, replace)
        return text, frozenset(found)

    @staticmethod
    def _scans(text: str) -> Iterator[tuple[PiiKind, re.Pattern[str], Callable[[str], bool]]]:
        """The scans a text needs, most specific first (a secret or an address can hold digits
        that look like a number); cheap checks skip the rest."""
        if _SECRET_MARKS.search(text):
            yield PiiKind.SECRET, _SECRET, _always
        if "@" in text:
            yield PiiKind.EMAIL, _EMAIL, _always
        if text.count(":") >= 2:
            yield PiiKind.IP, _IPV6, _is_ipv6
        digits = _digits(text)
        if digits >= 10:
            yield PiiKind.IBAN, _IBAN, iban.is_valid
        if digits >= 13:
            yield PiiKind.CARD, _CARD, _is_card
        if digits >= 4 and text.count(".") >= 3:
            yield PiiKind.IP, _IPV4, _is_ipv4

    @staticmethod
    def _phones(text: str, policy: RedactionPolicy, replace: Callable[[PiiKind, str], str]) -> str:
        matches = list(phonenumbers.PhoneNumberMatcher(text, policy.region, leniency=phonenumbers.Leniency.VALID))
        for match in reversed(matches):  # from the end, so earlier offsets stay valid
            normalised = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            text = text[: match.start] + replace(PiiKind.PHONE, normalised) + text[match.end :]
        return text

    def _placeholder(self, kind: PiiKind, value: str, mode: RedactionMode) -> str:
        if mode is RedactionMode.MASK:
            return f"[{kind}]"
        digest = hmac.new(self._hash_key, f"{kind}:{_normalise(kind, value)}".encode(), hashlib.sha256)
        return f"[{kind}:{digest.hexdigest()[:12]}]"


def _digits(text: str) -> int:
    return sum(map(text.count, "0123456789"))


def _always(_value: str) -> bool:
    return True


def _is_card(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def _is_ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _is_ipv6(value: str) -> bool:
    if value.count(":") < 2 or len(value) < 3:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _normalise(kind: PiiKind, value: str) -> str:
    """One spelling per value, so the same address or number hashes alike."""
    if kind in (PiiKind.EMAIL, PiiKind.IBAN):
        return value.replace(" ", "").lower()
    if kind is PiiKind.CARD:
        return re.sub(r"\D", "", value)
    return value
