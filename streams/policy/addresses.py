"""One key per recipient and per party: every spelling of one mailbox, number, handle or party id
meets the same state (and, on Kafka, the same partition); distinct ones never merge. docs/
recipients.md has the same rules with examples; the contract ("Who is the recipient") is binding.

Every channel first refuses text that hides what it says: control characters (but whitespace where
a channel reads it), format characters (zero-width spaces and joiners, bidi embeddings, overrides
and isolates, the BOM, soft hyphens), private-use, surrogate and unassigned code points. Such an
address is invalid, never a new recipient. Raw input longer than MAX_ADDRESS_CHARS is refused too.

- email: surrounding whitespace trimmed (contract), then parsed by `email-validator` (no
  deliverability check; a plain ASCII address is read without it, to the same key: `_email`):
  no display names, angle brackets, `mailto:`, quoted local parts, IP literals, comments or
  reserved domains (`.test`, `localhost`). The domain is mapped by IDNA
  2008 with UTS-46 and kept as its lower-case **A-label** (`bücher.de`, `BÜCHER.de` and
  `xn--bcher-kva.de` are all `xn--bcher-kva.de`): ASCII keys hash the same in every producer and
  show no look-alike letters in logs. The local part is NFC-normalized and lower-cased with
  `str.lower()` (the contract's lower-casing), after refusing any character that NFKC would change
  (the Kelvin sign U+212A, the Ångström and Ohm signs, full-width letters, ligatures,
  superscripts): NFC and lower-casing map those onto ASCII letters, which would merge two mailboxes
  that a mail server may keep apart. `Kelvin@x.com` with U+212A is refused, not made `kelvin@`.
- phone channels (sms, mms, voice, whatsapp, fax): E.164 (`+14155550124`) through `phonenumbers`,
  the record's jurisdiction as the region for numbers written without `+`. Only decimal digits (any
  script: phonenumbers maps them to ASCII), `+` (first), spaces and `- . ( ) /` are read: letters
  (vanity numbers, `tel:`, extensions) are refused, so two numbers never share a key through an
  ignored extension. Only numbers phonenumbers calls *valid* (not merely possible) pass, so a typo
  never becomes somebody else's number.
- social_dm and post: NFC, trimmed, inner whitespace (newlines included) collapsed to one space.
  Case is kept: handles and postal lines are case-sensitive on some networks and in some
  countries, and merging two recipients would let one's consent cover the other.
- party ids (`sender`, consent `party`, opt-out `party`, agreement `party`, the configured first
  party): `canonical_party` in config.py, re-exported here as `normalize_party`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final, NamedTuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumber

from streams.policy.config import canonical_party
from streams.policy.errors import InvalidAddress, excerpt
from streams.policy.phone_types import region_and_type

EMAIL: Final = "email"
PHONE_CHANNELS: Final = frozenset({"sms", "mms", "voice", "whatsapp", "fax"})
FREE_FORM_CHANNELS: Final = frozenset({"social_dm", "post"})
CHANNELS: Final = frozenset({EMAIL}) | PHONE_CHANNELS | FREE_FORM_CHANNELS
MAX_ADDRESS_CHARS: Final = 512  # raw text; an email is at most 254 once parsed, E.164 16
MAX_PHONE_CHARS: Final = 64
# The cache of normalized addresses is bounded in bytes, not only in entries: it keeps only raw
# texts of at most CACHED_CHARS characters, so CACHE_ENTRIES of them hold at most ~1 KiB each
# (key, result and the LRU's links: about 32 MiB in the worst case, all 4-byte characters).
CACHE_ENTRIES: Final = 32768
CACHED_CHARS: Final = 96
normalize_party: Final = canonical_party

_E164: Final = phonenumbers.PhoneNumberFormat.E164
_UNKNOWN_TYPE: Final = phonenumbers.PhoneNumberType.UNKNOWN
_HIDDEN: Final = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_PHONE_PUNCTUATION: Final = frozenset(" \u00a0-.()/")
# Most addresses are plain ASCII: a local part of letters, digits and `_ + -` in dot-separated
# runs, and a domain of letters, digits, hyphens and dots. Such an address is read without
# email-validator (about 28 µs a call): within these characters its local part can break no
# rule of email-validator's, the whole address only the length checked here, and its domain is
# given to email-validator once (`_plain_domain`). Anything else takes the full path, and so do
# IDNA (`xn--`) labels: their Unicode form can make the address too long where the ASCII is not.
_PLAIN_EMAIL: Final = re.compile(r"([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*)@([A-Za-z0-9.-]+)")
_EMAIL_MAX_CHARS: Final = 254  # RFC 5321, as email-validator counts it
DOMAIN_CACHE_ENTRIES: Final = 4096


class ParsedNumber(NamedTuple):
    """A phone number as its normalization read it."""

    number: PhoneNumber
    kind: int  # `phonenumbers.PhoneNumberType`
    region: str | None  # `phonenumbers.region_code_for_number`: "001" for non-geographical


# The parse, type and region behind each recently normalized number, by its E.164
# (`parsed_number`): the quiet hours rule reads the number's prefix right after its intent is
# normalized, and a parse is about 10-20 µs. Bounded: emptied when full.
_RECENT_PARSES: dict[str, ParsedNumber] = {}
RECENT_PARSES: Final = 4096


def normalize_address(channel: str, raw: str, region: str | None = None) -> str:
    """The normalized form of `raw` on `channel`, or InvalidAddress saying why not."""
    if channel not in CHANNELS:
        raise InvalidAddress(f"unknown channel {excerpt(channel)}")
    if not isinstance(raw, str):
        raise InvalidAddress(f"a {channel} address must be a string")
    if len(raw) > MAX_ADDRESS_CHARS:
        raise InvalidAddress(
            f"{channel} address is {len(raw)} characters, over {MAX_ADDRESS_CHARS}"
        )
    if len(raw) > CACHED_CHARS:
        return _normalize.__wrapped__(channel, raw, region)
    return _normalize(channel, raw, region)


def clear_caches() -> None:
    """Forget every address normalized so far (benchmarks of addresses not seen lately)."""
    _normalize.cache_clear()
    _plain_domain.cache_clear()
    _RECENT_PARSES.clear()


def hidden_character(text: str, *, whitespace: bool) -> str | None:
    """The first character of `text` that hides what it says (see the module doc), as
    `U+200B ZERO WIDTH SPACE`; None when there is none. `whitespace`: tabs and newlines pass."""
    if text.isascii() and text.isprintable():
        return None
    for char in text:
        if unicodedata.category(char) in _HIDDEN and not (whitespace and char.isspace()):
            return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')}"
    return None


@lru_cache(maxsize=CACHE_ENTRIES)
def _normalize(channel: str, raw: str, region: str | None) -> str:
    if channel == EMAIL:
        return _email(raw)
    if channel in PHONE_CHANNELS:
        return _phone(raw, region)
    return _free_form(channel, raw)


def _email(raw: str) -> str:
    text = raw.strip()
    plain = _PLAIN_EMAIL.fullmatch(text)
    if plain is not None and len(text) <= _EMAIL_MAX_CHARS and "xn--" not in text.lower():
        domain = _plain_domain(plain[2])
        if domain is not None:
            return plain[1].lower() + "@" + domain
    return _email_checked(raw)


@lru_cache(maxsize=DOMAIN_CACHE_ENTRIES)
def _plain_domain(domain: str) -> str | None:
    """A plain domain's key form as email-validator reads it (lower-case ASCII); None when it
    refuses it (the full path then says why)."""
    try:
        parsed = validate_email("x@" + domain, check_deliverability=False)
    except (EmailNotValidError, UnicodeError, ValueError):
        return None
    ascii_domain = parsed.ascii_domain
    if ascii_domain is None or "." not in ascii_domain:
        return None
    return ascii_domain.lower()


def _email_checked(raw: str) -> str:
    """Every email address through email-validator (`_email`'s full path)."""
    text = raw.strip()
    hidden = hidden_character(text, whitespace=False)
    if hidden is not None:
        raise InvalidAddress(f"email address {excerpt(raw)} contains {hidden}")
    if text[:7].lower() == "mailto:":
        raise InvalidAddress(f"email address {excerpt(raw)} is a mailto: URI, not an address")
    if "<" in text or ">" in text:
        raise InvalidAddress(
            f"email address {excerpt(raw)} has a display name or angle brackets: give the bare "
            "address"
        )
    local = text.rpartition("@")[0]
    if not local.isascii():
        for char in local:
            if unicodedata.normalize("NFKC", char) != char:
                raise InvalidAddress(
                    f"email address {excerpt(raw)} has the compatibility character "
                    f"U+{ord(char):04X} {unicodedata.name(char, '')} in its local part: it would "
                    "merge with another mailbox"
                )
    try:
        parsed = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"email address {excerpt(raw)} is not valid: {exc}") from None
    except (UnicodeError, ValueError) as exc:  # idna's own errors on exotic labels
        raise InvalidAddress(f"email address {excerpt(raw)} has an invalid domain: {exc}") from None
    domain = parsed.ascii_domain
    if domain is None or "." not in domain:
        raise InvalidAddress(f"email address {excerpt(raw)} needs a domain like example.com")
    return unicodedata.normalize("NFC", parsed.local_part.lower()) + "@" + domain.lower()


def _phone(raw: str, region: str | None) -> str:
    text = raw.strip()
    if text.startswith("\uff0b"):  # a full-width plus, as CJK keyboards type it
        text = "+" + text[1:]
    if len(text) > MAX_PHONE_CHARS:
        raise InvalidAddress(f"phone number is {len(text)} characters, over {MAX_PHONE_CHARS}")
    for n, char in enumerate(text):
        if char == "+" and n == 0:
            continue
        if not (char in _PHONE_PUNCTUATION or char.isdecimal()):
            raise InvalidAddress(
                f"phone number {excerpt(raw)} has {excerpt(char)}: only digits, a leading +, "
                "spaces and - . ( ) / are read"
            )
    if not text.startswith("+") and not region:
        raise InvalidAddress(
            f"phone number {excerpt(raw)} has no '+' and no jurisdiction to read it in"
        )
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        reason = str(exc).split(") ", 1)[-1]
        raise InvalidAddress(f"phone number {excerpt(raw)} does not parse: {reason}") from None
    # A number is valid (`is_valid_number`) exactly when its type is known; the type is kept.
    region, kind = region_and_type(number)
    if number.extension or kind == _UNKNOWN_TYPE:
        raise InvalidAddress(f"phone number {excerpt(raw)} is not a valid number")
    e164: str = phonenumbers.format_number(number, _E164)
    if len(_RECENT_PARSES) >= RECENT_PARSES:
        _RECENT_PARSES.clear()
    _RECENT_PARSES[e164] = ParsedNumber(number, kind, region)
    return e164


def parsed_number(e164: str) -> ParsedNumber:
    """A normalized number, parsed, with its type and region: what its normalization found
    when that was recent (the same: a valid number's E.164 parses back to the same fields), else
    found anew. Raises `phonenumbers.NumberParseException` for what does not parse."""
    found = _RECENT_PARSES.get(e164)
    if found is not None:
        return found
    number = phonenumbers.parse(e164, None)
    region, kind = region_and_type(number)
    return ParsedNumber(number, kind, region)


def _free_form(channel: str, raw: str) -> str:
    hidden = hidden_character(raw, whitespace=True)
    if hidden is not None:
        raise InvalidAddress(f"{channel} address {excerpt(raw)} contains {hidden}")
    collapsed = " ".join(unicodedata.normalize("NFC", raw).split())
    if not collapsed:
        raise InvalidAddress(f"empty {channel} address")
    return collapsed
