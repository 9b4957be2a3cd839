"""Personal data out of free text before it reaches Kafka: e-mail addresses, phone numbers, payment
cards, IBANs, IP addresses and API-key-like secrets (docs/contract.md, "Redaction").

Each kind is found by what recognises it best: a pattern for the shape, then the kind's own check
where one exists (Luhn and the issuer's number range for cards, ISO 13616 for IBANs via
python-stdnum, ``ipaddress`` for IPs, Google's libphonenumber port for phone numbers in every
country's format). A text is scanned only for kinds it can hold — fewer than 7 digits, no phone;
no ``@``, no e-mail — so most texts cost a few ``str.count`` calls and come out byte-identical.

Every scan reads the text as it was sent and yields spans; a span overlapping one already taken
by a more specific kind (a secret or an address holds digits that look like a number) is dropped,
and the text is rebuilt once. No scan ever reads another's placeholder.

Modes (per tenant): ``mask`` writes ``[email]``, ``[phone]``, …; ``hash`` writes
``[email:3f9a0c1d2b7e]``, a keyed HMAC of the normalised value, so the same address hashes alike
across events and joins still work while the value cannot be read back; ``off`` leaves text as is.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
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


ALL_KINDS = frozenset(PiiKind)
NOTHING: frozenset[PiiKind] = frozenset()


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
    | \bglpat-[A-Za-z0-9_\-]{20,}                        # GitLab
    | \bhf_[A-Za-z0-9]{30,}                              # Hugging Face
    | \bxox[abprs]-[A-Za-z0-9\-]{10,}                    # Slack
    | \bAIza[0-9A-Za-z_\-]{35}                           # Google API key
    | \beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}   # JWT
    | (?<=[Bb]earer\ )[A-Za-z0-9\-._~+/]{20,}=*           # an Authorization header's token
    | -----BEGIN[ A-Z]{0,20}PRIVATE\ KEY-----[\s\S]{0,20000}?-----END[ A-Z]{0,20}PRIVATE\ KEY-----
    """,
    re.VERBOSE,
)
# Literal pieces one of the shapes above must contain: a text without any is not scanned for them.
_SECRET_MARKS = re.compile(r"[spr]k_|sk-|A[KS]IA|gh[pousr]_|github_pat_|glpat-|hf_|xox|AIza|eyJ|earer |PRIVATE KEY")
# ``api_key = …``, ``"password": "…"``: the value goes, the name stays. Not after ``[`` (a placeholder
# of ours, ``[secret:…]``, is not a secret assignment).
_ASSIGNED_SECRET = re.compile(
    r"""(?<!\[)(?:api[_-]?key|secret|token|passw(?:or)?d|pwd)["']?\s*[:=]\s*["']?(?P<value>(?!\[)[^\s"',;]{8,})""",
    re.IGNORECASE,
)
_ASSIGNED_MARKS = re.compile(r"key|secret|token|passw|pwd", re.IGNORECASE)
# Bounded quantifiers: a long run of address characters costs at most 64 steps per position.
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
# A number, not part of a longer one or of a decimal; a sentence's full stop after it is fine.
_CARD = re.compile(r"(?<!\d)(?<!\d[.,])\d(?:[ \-]?\d){12,18}(?!\d|[.,]\d)")
_IPV4 = re.compile(r"(?<!\d)(?<!\d\.)(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
# Not inside a word: ``std::vector`` and ``Foo::Bar`` are C++ and Rust, not addresses.
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?!\w|:\w)")
_PHONE_DIGITS = re.compile(r"(?:\d\D{0,3}){7}")
_NOT_DIGIT = re.compile(r"\D")


@dataclass(frozen=True)
class RedactionPolicy:
    """How one tenant's texts are treated: the mode, the kinds looked for, and the ``region``
    where national phone numbers (without a ``+`` country code) are read as local ones."""

    mode: RedactionMode = RedactionMode.MASK
    kinds: frozenset[PiiKind] = field(default=ALL_KINDS)
    region: str = "US"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: PiiKind
    value: str  # what the hash is made of (normalised)


class Redactor:
    """Finds and replaces personal data in texts; one per process (holds the hashing key)."""

    def __init__(self, hash_key: bytes | None = None) -> None:
        self._hash_key = hash_key

    def redact(self, text: str, policy: RedactionPolicy) -> tuple[str, frozenset[PiiKind]]:
        """The text with every finding replaced, and the kinds found (empty: text unchanged)."""
        if policy.mode is RedactionMode.OFF or len(text) < 6:  # no kind fits in 5 characters (a@b.co)
            return text, NOTHING
        spans = find(text, policy.kinds, policy.region)
        if not spans:
            return text, NOTHING
        out: list[str] = []
        at = 0
        for span in spans:
            out.append(text[at : span.start])
            out.append(self._placeholder(span, policy.mode))
            at = span.end
        out.append(text[at:])
        return "".join(out), frozenset(span.kind for span in spans)

    def _placeholder(self, span: Span, mode: RedactionMode) -> str:
        if mode is RedactionMode.MASK:
            return f"[{span.kind}]"
        if self._hash_key is None:
            raise ValueError("hash mode needs a key (FEEDBACK_REDACTION_HASH_KEY)")
        digest = hmac.new(self._hash_key, f"{span.kind}:{span.value}".encode(), hashlib.sha256)
        return f"[{span.kind}:{digest.hexdigest()[:12]}]"


def find(text: str, kinds: frozenset[PiiKind] = ALL_KINDS, region: str = "US") -> list[Span]:
    """Every finding in ``text``, in order, none overlapping (the more specific kind wins)."""
    taken = _Spans()
    for span in _candidates(text, kinds, region):
        taken.add(span)
    return taken.spans


class _Spans:
    """Spans sorted by start; one that overlaps a span already taken is not added."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._starts: list[int] = []

    def add(self, span: Span) -> None:
        at = bisect.bisect_right(self._starts, span.start)
        if at and self.spans[at - 1].end > span.start:
            return
        if at < len(self.spans) and self.spans[at].start < span.end:
            return
        self.spans.insert(at, span)
        self._starts.insert(at, span.start)


def _candidates(text: str, kinds: frozenset[PiiKind], region: str) -> Iterator[Span]:
    """Findings of each kind the text can hold, most specific kind first."""
    has_sign = "=" in text or ":" in text
    if PiiKind.SECRET in kinds:
        if _SECRET_MARKS.search(text):
            for match in _SECRET.finditer(text):
                yield Span(match.start(), match.end(), PiiKind.SECRET, match.group())
        if has_sign and _ASSIGNED_MARKS.search(text):
            for match in _ASSIGNED_SECRET.finditer(text):
                yield Span(match.start("value"), match.end("value"), PiiKind.SECRET, match["value"])
    if PiiKind.EMAIL in kinds and "@" in text:
        for match in _EMAIL.finditer(text):
            yield Span(match.start(), match.end(), PiiKind.EMAIL, match.group().lower())
    if PiiKind.IP in kinds and text.count(":") >= 2:
        yield from _ipv6(text)
    digits = sum(map(text.count, "0123456789"))
    if digits < 4:
        return
    if PiiKind.IBAN in kinds and digits >= 10:
        for match in _IBAN.finditer(text):
            if iban.is_valid(match.group()):
                yield Span(match.start(), match.end(), PiiKind.IBAN, match.group().replace(" ", "").upper())
    if PiiKind.CARD in kinds and digits >= 13:
        for match in _CARD.finditer(text):
            number = _NOT_DIGIT.sub("", match.group())
            if is_card(number):
                yield Span(match.start(), match.end(), PiiKind.CARD, number)
    if PiiKind.IP in kinds and text.count(".") >= 3:
        for match in _IPV4.finditer(text):
            address = _ip(match.group())
            if address is not None:
                yield Span(match.start(), match.end(), PiiKind.IP, address)
    if PiiKind.PHONE in kinds and digits >= 7 and _PHONE_DIGITS.search(text):
        for found in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            e164 = phonenumbers.format_number(found.number, phonenumbers.PhoneNumberFormat.E164)
            yield Span(found.start, found.end, PiiKind.PHONE, e164)


def _ipv6(text: str) -> Iterator[Span]:
    for match in _IPV6.finditer(text):
        value, end = match.group(), match.end()
        if value.endswith(":") and not value.endswith("::"):  # a colon after it, as in "at 2001:db8::1:"
            value, end = value[:-1], end - 1
        # Two groups with a digit at least: ``dead::beef`` is a word play, ``::1`` is no one's.
        if sum(1 for group in value.split(":") if group) < 2 or not any(c.isdigit() for c in value):
            continue
        address = _ip(value)
        if address is not None:
            yield Span(match.start(), end, PiiKind.IP, address)


def _ip(value: str) -> str | None:
    """The address in its one canonical spelling, or None when ``value`` is not one."""
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return None


def is_card(digits: str) -> bool:
    """A payment card number: 13 to 19 digits, Luhn-valid, in an issuer's range (Visa 4, Mastercard
    51-55 and 2221-2720, Amex 34/37, Diners 30/36/38/39, JCB 35, Discover/UnionPay/Maestro 5 and 6).
    The range keeps Luhn-valid timestamps and order numbers (1 in 10 of them) out."""
    if not 13 <= len(digits) <= 19 or not luhn.is_valid(digits):
        return False
    first = digits[0]
    if first in "456":
        return True
    if first == "3":
        return digits[1] in "045678"
    return first == "2" and 2221 <= int(digits[:4]) <= 2720
