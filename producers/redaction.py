"""Personal data out of free text before it reaches Kafka: e-mail addresses, phone numbers, payment
cards, IBANs, IP addresses and API-key-like secrets (docs/contract.md, "Redaction").

Each kind is found by what recognises it best: a pattern for the shape, then the kind's own check
where one exists (Luhn and the issuer's number range for cards, ISO 13616 for IBANs via
python-stdnum, ``ipaddress`` for IPs, Google's libphonenumber port for phone numbers in every
country's format, checked only on what is written like a phone number). A text is scanned only
for kinds it can hold — no 4 digits close together, no phone, card, IBAN or IPv4; no ``@``, no
e-mail — so most texts cost a few substring tests and come out byte-identical.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial

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
MIN_FINDING = 6  # no kind fits in 5 characters (a@b.co): shorter texts are not searched


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
# (Substring tests: a regex alternation tries every branch at every position, several times slower.)
_SECRET_MARKS = (
    "sk_", "pk_", "rk_", "sk-", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-",
    "hf_", "xox", "AIza", "eyJ", "earer ", "PRIVATE KEY",
)  # fmt: skip
# ``api_key = …``, ``"password": "…"``: the value goes, the name stays. Not after ``[`` (a placeholder
# of ours, ``[secret:…]``, is not a secret assignment).
_ASSIGNED_SECRET = re.compile(
    r"""(?<!\[)(?:api[_-]?key|secret|token|passw(?:or)?d|pwd)["']?\s*[:=]\s*["']?(?P<value>(?!\[)[^\s"',;]{8,})""",
    re.IGNORECASE,
)
_ASSIGNED_MARKS = ("key", "secret", "token", "passw", "pwd")  # in the lower-cased text
# Bounded quantifiers: a long run of address characters costs at most 64 steps per position.
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
# A number, not part of a longer one or of a decimal; a sentence's full stop after it is fine.
_CARD = re.compile(r"(?<!\d)(?<!\d[.,])\d(?:[ \-]?\d){12,18}(?!\d|[.,]\d)")
_IPV4 = re.compile(r"(?<!\d)(?<!\d\.)(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
# Not inside a word: ``std::vector`` and ``Foo::Bar`` are C++ and Rust, not addresses.
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?!\w|:\w)")
# Something written like a phone number: digits in groups, perhaps a + or 00 and a (0) or an
# area code in parentheses; not glued to a word, an id (#123), an amount or a version.
_PHONE = re.compile(r"(?<![\w+#$€£@./-])(?:\+|\b00)?\(?\d[\d ().\-/]{5,22}\d(?![\w@]|[.,/:-]\d)")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_NOT_DIGIT = re.compile(r"\D")
_FOUR_DIGITS = re.compile(r"\d(?:\D{0,3}\d){3}")


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
        if policy.mode is RedactionMode.OFF or len(text) < MIN_FINDING:
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
    """Every finding in ``text``, in order, none overlapping (the more specific kind wins). A candidate
    overlapping a finding is dropped before its check (libphonenumber, Luhn, ISO 13616) runs."""
    taken = _Spans()
    for start, end, kind, raw, check in _candidates(text, kinds, region):
        if taken.free(start, end):
            value = check(raw)
            if value is not None:
                taken.add(Span(start, end, kind, value))
    return taken.spans


class _Spans:
    """Spans sorted by start, none overlapping."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._starts: list[int] = []

    def free(self, start: int, end: int) -> bool:
        at = bisect.bisect_right(self._starts, start)
        if at and self.spans[at - 1].end > start:
            return False
        return not (at < len(self.spans) and self.spans[at].start < end)

    def add(self, span: Span) -> None:
        at = bisect.bisect_right(self._starts, span.start)
        self.spans.insert(at, span)
        self._starts.insert(at, span.start)


# A candidate: where it is, its kind, its text, and the check that turns it into the normalised value
# (what hash mode hashes), or None when it is not one after all.
Candidate = tuple[int, int, PiiKind, str, Callable[[str], str | None]]


def _candidates(text: str, kinds: frozenset[PiiKind], region: str) -> Iterator[Candidate]:
    """Candidates of each kind the text can hold, most specific kind first."""
    if PiiKind.SECRET in kinds:
        if _has_any(text, _SECRET_MARKS):
            for match in _SECRET.finditer(text):
                yield match.start(), match.end(), PiiKind.SECRET, match.group(), _same
        if ("=" in text or ":" in text) and _has_any(text.lower(), _ASSIGNED_MARKS):
            for match in _ASSIGNED_SECRET.finditer(text):
                yield match.start("value"), match.end("value"), PiiKind.SECRET, match["value"], _same
    if PiiKind.EMAIL in kinds and "@" in text:
        for match in _EMAIL.finditer(text):
            yield match.start(), match.end(), PiiKind.EMAIL, match.group(), _lower
    if PiiKind.IP in kinds and text.count(":") >= 2:
        for match in _IPV6.finditer(text):
            value, end = match.group(), match.end()
            if value.endswith(":") and not value.endswith("::"):  # a colon after it: "at 2001:db8::1:"
                value, end = value[:-1], end - 1
            yield match.start(), end, PiiKind.IP, value, _ipv6
    # IBANs, cards, IPv4 addresses and phone numbers all have 4 digits close together.
    if not _FOUR_DIGITS.search(text):
        return
    digits = sum(map(text.count, "0123456789"))
    if PiiKind.IBAN in kinds and digits >= 10:
        for match in _IBAN.finditer(text):
            yield match.start(), match.end(), PiiKind.IBAN, match.group(), _iban
    if PiiKind.CARD in kinds and digits >= 13:
        for match in _CARD.finditer(text):
            yield match.start(), match.end(), PiiKind.CARD, match.group(), _card
    if PiiKind.IP in kinds and text.count(".") >= 3:
        for match in _IPV4.finditer(text):
            yield match.start(), match.end(), PiiKind.IP, match.group(), _ip
    if PiiKind.PHONE in kinds and digits >= 7:
        check = partial(phone_number, region=region)
        for match in _PHONE.finditer(text):
            yield match.start(), match.end(), PiiKind.PHONE, match.group(), check


def _has_any(text: str, marks: tuple[str, ...]) -> bool:
    return any(mark in text for mark in marks)


def _same(value: str) -> str:
    return value


def _lower(value: str) -> str:
    return value.lower()


def _iban(value: str) -> str | None:
    compact = value.replace(" ", "")
    # ISO 7064 mod 97 first (integer arithmetic): python-stdnum's full check of the country's format
    # costs far more, and only a candidate that passes this one pays it.
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    if int(digits) % 97 != 1:
        return None
    return compact if iban.is_valid(compact) else None


def _card(value: str) -> str | None:
    number = _NOT_DIGIT.sub("", value)
    return number if is_card(number) else None


def _valid_in(number: phonenumbers.PhoneNumber, region: str) -> bool:
    return bool(phonenumbers.is_valid_number_for_region(number, region))


def _ipv6(value: str) -> str | None:
    # Two groups with a digit at least: ``dead::beef`` is a word play, ``::1`` is no one's.
    if sum(1 for group in value.split(":") if group) < 2 or not any(c.isdigit() for c in value):
        return None
    return _ip(value)


def phone_number(candidate: str, region: str) -> str | None:
    """The number in E.164 when ``candidate`` is a valid phone number (libphonenumber's metadata for
    its country, or for ``region`` when it has no ``+``/``00`` prefix), else None. A cheap look at
    the shape comes first: libphonenumber costs about 0.1 ms a call, most candidates never reach it."""
    digits = sum(c.isdigit() for c in candidate)
    if not 7 <= digits <= 15 or candidate.count("(") != candidate.count(")"):
        return None
    international = candidate.startswith(("+", "00"))
    if not international:
        if candidate.isdigit() and digits < 9:  # a bare run of 7 or 8 digits: an id, a date, an amount
            return None
        if _DATE.fullmatch(candidate):
            return None
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, None if international else region)
    except phonenumbers.NumberParseException:
        return None
    # A national number is checked against its region alone: is_valid_number would look the region
    # up first, among the 25 that share +1 for a North American number.
    valid = phonenumbers.is_valid_number(number) if international else _valid_in(number, region)
    if not valid:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
