"""One normalized spelling per recipient address, so that every record about a mailbox or a number
meets the same state (and, on Kafka, the same partition).

Choices where the contract is silent:
- email: trimmed and lower-cased (contract). It must look like an address: one `@`, a non-empty
  local part, a domain with a dot and no empty label, no whitespace. Nothing more (no RFC 5322
  parser): the goal is to refuse garbage, not to judge deliverability.
- phone channels: E.164 through `phonenumbers`, the record's jurisdiction as the region for numbers
  written without `+`. Only numbers `phonenumbers` calls *valid* (not merely possible) pass, so a
  typo never becomes somebody else's number. The scenarios' 555-01xx numbers are valid.
- social_dm and post: trimmed with inner whitespace collapsed to one space; case is kept (handles
  and postal lines are not reliably case-insensitive). They must not be empty.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import phonenumbers

from streams.policy.errors import InvalidAddress

EMAIL: Final = "email"
PHONE_CHANNELS: Final = frozenset({"sms", "mms", "voice", "whatsapp", "fax"})
FREE_FORM_CHANNELS: Final = frozenset({"social_dm", "post"})
CHANNELS: Final = frozenset({EMAIL}) | PHONE_CHANNELS | FREE_FORM_CHANNELS

_E164: Final = phonenumbers.PhoneNumberFormat.E164


def normalize_address(channel: str, raw: str, region: str | None = None) -> str:
    """The normalized form of `raw` on `channel`, or InvalidAddress saying why not."""
    if channel not in CHANNELS:
        raise InvalidAddress(f"unknown channel {channel!r}")
    return _normalize(channel, raw, region)


@lru_cache(maxsize=65536)
def _normalize(channel: str, raw: str, region: str | None) -> str:
    if channel == EMAIL:
        return _email(raw)
    if channel in PHONE_CHANNELS:
        return _phone(raw, region)
    collapsed = " ".join(raw.split())
    if not collapsed:
        raise InvalidAddress(f"empty {channel} address")
    return collapsed


def _email(raw: str) -> str:
    address = raw.strip().lower()
    local, at, domain = address.partition("@")
    if not at or "@" in domain:
        raise InvalidAddress(f"email address {raw!r} needs exactly one '@'")
    if not local or any(c.isspace() for c in address):
        raise InvalidAddress(f"email address {raw!r} has an empty local part or whitespace")
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        raise InvalidAddress(f"email address {raw!r} needs a domain like example.com")
    return address


def _phone(raw: str, region: str | None) -> str:
    text = raw.strip()
    if not text.startswith("+") and not region:
        raise InvalidAddress(f"phone number {raw!r} has no '+' and no jurisdiction to read it in")
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        reason = str(exc).split(") ", 1)[-1]
        raise InvalidAddress(f"phone number {raw!r} does not parse: {reason}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddress(f"phone number {raw!r} is not a valid number")
    return phonenumbers.format_number(number, _E164)
