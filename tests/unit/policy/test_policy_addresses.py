"""Address and party normalization: one key per recipient and party (issue 11 §2), and no
guessing: what hides characters or would merge two mailboxes is refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.policy.addresses import CHANNELS, normalize_address, normalize_party
from streams.policy.config import CHANNEL_NAMES, PolicyConfig
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
        ("email", "alice.example.com", None, "must have an @-sign"),
        ("email", "a@b@example.com", None, "not valid"),
        ("email", "@example.com", None, "There must be something before the @-sign"),
        ("email", "alice@localhost", None, "not valid"),
        ("email", "alice@example..com", None, "not valid"),
        ("email", "al ice@example.com", None, "invalid characters"),
        ("email", "mailto:alice@example.com", None, "mailto: URI"),
        ("email", "Alice <alice@example.com>", None, "display name or angle brackets"),
        ("email", "<alice@example.com>", None, "display name or angle brackets"),
        ("email", "alice\u200b@example.com", None, "U+200B ZERO WIDTH SPACE"),
        ("email", "alice@exa\u202emple.com", None, "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("email", "\ufeffalice@example.com", None, "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("email", "ali\x00ce@example.com", None, "U+0000"),
        ("email", "\u212aelvin@example.com", None, "U+212A KELVIN SIGN"),
        ("email", "\uff41lice@example.com", None, "compatibility character"),
        ("email", "alice@example.test", None, "special-use"),
        ("email", "a" * 600 + "@example.com", None, "over 512"),
        ("sms", "not-a-number", "US", "only digits"),
        ("sms", "tel:+14155550124", None, "only digits"),
        ("sms", "+1 415 555 0124 x12", None, "only digits"),
        ("sms", "1-800-FLOWERS", "US", "only digits"),
        ("sms", "+1\u200b4155550124", None, "only digits"),
        ("sms", "4155550124", None, "no '+'"),
        ("sms", "+1555555010", None, "not a valid number"),
        ("voice", "+15555550100", None, "not a valid number"),
        ("post", "   ", None, "empty"),
        ("post", "1 Main St\u202e", None, "RIGHT-TO-LEFT OVERRIDE"),
        ("social_dm", "@al\u200dice", None, "ZERO WIDTH JOINER"),
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


@pytest.mark.parametrize(
    "spelling",
    ["user@bücher.de", "user@xn--bcher-kva.de", "USER@BÜCHER.DE", " User@Bücher.de ",
     "user@bu\u0308cher.de", "user@XN--BCHER-KVA.DE", "user@\uff42ücher.de"],
)  # fmt: skip
def test_idna_spellings_of_one_mailbox_are_one_key(spelling: str) -> None:
    assert normalize_address("email", spelling) == "user@xn--bcher-kva.de"


def test_a_unicode_local_part_is_nfc_and_lower_cased() -> None:
    composed = normalize_address("email", "Jos\u00c9@example.com")
    assert (
        composed == normalize_address("email", "JOSE\u0301@example.com") == "jos\u00e9@example.com"
    )


def test_the_kelvin_sign_never_merges_with_k() -> None:
    assert normalize_address("email", "Kelvin@example.com") == "kelvin@example.com"
    with pytest.raises(InvalidAddress):
        normalize_address("email", "\u212aelvin@example.com")


@pytest.mark.parametrize(
    "spelling", ["+1 (415) 555-0124", "415.555.0124", "\uff0b1 415 555 0124",
                 "\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff12\uff14",
                 "\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0662\u0664",
                 "415/555-0124", "+1\u00a0415\u00a0555\u00a00124"],
)  # fmt: skip
def test_digits_of_any_script_are_one_number(spelling: str) -> None:
    assert normalize_address("sms", spelling, "US") == "+14155550124"


@pytest.mark.parametrize(
    ("raw", "party"),
    [("company", "company"), (" Company ", "company"), ("ACME  Partner", "acme partner"),
     ("\uff43ompany", "company"), ("Stra\u00dfe", "strasse"), ("\u212aelvin", "kelvin")],
)  # fmt: skip
def test_party_ids_have_one_canonical_form(raw: str, party: str) -> None:
    assert normalize_party(raw) == party


@pytest.mark.parametrize("raw", ["", "   ", "ac\u200bme", "acme\u202e", "a\x00", "x" * 129, 5])
def test_unreadable_party_ids_are_refused(raw: object) -> None:
    with pytest.raises(ValueError):
        normalize_party(raw)  # type: ignore[arg-type]


def test_the_configured_first_party_is_canonical() -> None:
    assert PolicyConfig(first_party=" Company ").first_party == "company"
    with pytest.raises(ValueError, match="CONSENTGATE_FIRST_PARTY"):
        PolicyConfig(first_party="\u200b")


def test_config_channels_are_the_address_channels() -> None:
    assert frozenset(CHANNEL_NAMES) == CHANNELS


# -- properties: every spelling of one recipient or party is one key; distinct ones stay distinct

_LOCAL = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789._+-"),
                 min_size=1, max_size=12).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s)  # fmt: skip
_DOMAIN = st.sampled_from(["example.com", "bücher.de", "xn--bcher-kva.de", "faß.de", "例え.jp",
                           "mail.example.co.uk"])  # fmt: skip


def _case(text: str, flips: list[bool]) -> str:
    """`text` with some letters upper-cased: only those whose upper case is one letter that
    lower-cases back (ß upper-cases to SS, another name)."""
    flags = flips + [False] * len(text)
    return "".join(
        c.upper() if flag and len(c.upper()) == 1 and c.upper().lower() == c else c
        for c, flag in zip(text, flags, strict=False)
    )


@settings(max_examples=150, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN, flips=st.lists(st.booleans(), max_size=40),
       pad=st.sampled_from(["", " ", "\t", "  \n"]))  # fmt: skip
def test_every_spelling_of_one_mailbox_is_one_key(
    local: str, domain: str, flips: list[bool], pad: str
) -> None:
    key = normalize_address("email", f"{local}@{domain}")
    spelled = f"{pad}{_case(local, flips)}@{_case(domain, flips[::-1])}{pad}"
    assert normalize_address("email", spelled) == key
    assert normalize_address("email", key) == key  # idempotent: a key is its own spelling


@settings(max_examples=150, deadline=None)
@given(raw=st.text(max_size=40))
def test_party_canonical_form_is_idempotent_or_refused(raw: str) -> None:
    try:
        party = normalize_party(raw)
    except ValueError:
        return
    assert normalize_party(party) == party
    assert normalize_party(f"  {party.upper()} ") == normalize_party(party.upper())


@settings(max_examples=300, deadline=None)
@given(channel=st.sampled_from(sorted(CHANNELS)), raw=st.text(max_size=60),
       region=st.sampled_from([None, "US", "GB", "IN", "ZZ", "USA"]))  # fmt: skip
def test_any_unicode_text_normalizes_or_is_refused_never_raises_else(
    channel: str, raw: str, region: str | None
) -> None:
    try:
        key = normalize_address(channel, raw, region)
    except InvalidAddress:
        return
    assert key == key.strip() and key
    assert normalize_address(channel, key, region) == key
