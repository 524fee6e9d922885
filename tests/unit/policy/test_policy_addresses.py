"""Address normalization per channel: one spelling per recipient, and no guessing."""

from __future__ import annotations

import re

import pytest

from streams.policy.addresses import normalize_address
from streams.policy.errors import InvalidAddress


@pytest.mark.parametrize(
    ("channel", "raw", "region", "normalized"),
    [
        ("email", "Alice@Example.COM ", None, "alice@example.com"),
        ("email", "  bob.smith+news@mail.example.co.uk", None, "bob.smith+news@mail.example.co.uk"),
        ("sms", "+14155550101", None, "+14155550101"),
        ("sms", "+1 (415) 555-0123", "US", "+14155550123"),
        ("sms", "(415) 555-0124", "US", "+14155550124"),
        ("voice", "415.555.0124", "US", "+14155550124"),
        ("whatsapp", "07911 123456", "GB", "+447911123456"),
        ("mms", "+44 7911 123456", "US", "+447911123456"),
        ("fax", "098123 45678", "IN", "+919812345678"),
        ("sms", "613-555-0164", "CA", "+16135550164"),
        ("social_dm", "  @acme   fan ", None, "@acme fan"),
        ("post", "1 Main St\n  Springfield ", None, "1 Main St Springfield"),
    ],
)
def test_normalizes(channel: str, raw: str, region: str | None, normalized: str) -> None:
    assert normalize_address(channel, raw, region) == normalized


@pytest.mark.parametrize(
    ("channel", "raw", "region", "says"),
    [
        ("email", "alice.example.com", None, "exactly one '@'"),
        ("email", "a@b@example.com", None, "exactly one '@'"),
        ("email", "@example.com", None, "empty local part"),
        ("email", "alice@localhost", None, "domain"),
        ("email", "alice@example..com", None, "domain"),
        ("email", "al ice@example.com", None, "whitespace"),
        ("sms", "not-a-number", "US", "does not parse"),
        ("sms", "4155550124", None, "no '+'"),
        ("sms", "+1555555010", None, "not a valid number"),
        ("voice", "+15555550100", None, "not a valid number"),
        ("post", "   ", None, "empty"),
        ("pigeon", "coop 7", None, "unknown channel"),
    ],
)
def test_refuses(channel: str, raw: str, region: str | None, says: str) -> None:
    with pytest.raises(InvalidAddress, match=re.escape(says)):
        normalize_address(channel, raw, region)


def test_same_number_written_two_ways_is_one_recipient() -> None:
    assert normalize_address("sms", "(415) 555-0124", "US") == normalize_address(
        "sms", "+1 415 555 0124", "GB"
    )
