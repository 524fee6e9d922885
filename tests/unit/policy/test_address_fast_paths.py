"""The per-address shortcuts of the hot path give what the plain definitions give.

- `addresses._email` reads plain ASCII addresses without email-validator: it must return what
  `_email_checked` (every address through email-validator) returns, or refuse with its words.
- `recipient.number_facts` reuses the normalizer's parse and type: its facts must be
  phonenumbers' own (`time_zones_for_number`, `description_for_number`).
- `Pseudonyms` computes HMAC from prepared SHA-256 states and base32 by table: it must equal
  `pseudonym`, the plain HMAC-SHA256 and base64 definition.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from phonenumbers import geocoder
from phonenumbers import timezone as number_timezones

from streams.policy import addresses, recipient
from streams.policy.errors import InvalidAddress
from streams.policy.pseudonym import Pseudonyms, pseudonym


def _outcome(function: Any, *args: Any) -> tuple[str, str]:
    try:
        return ("key", function(*args))
    except InvalidAddress as exc:
        return ("refused", str(exc))


# -- email: the plain path against email-validator

_ATOM = st.text(alphabet=st.sampled_from("aZz09_+-.!#"), min_size=0, max_size=8)
_LABEL = st.one_of(
    st.text(alphabet=st.sampled_from("aZ09-"), min_size=0, max_size=6),
    st.sampled_from(["xn--bcher-kva", "XN--BCHER-KVA", "ab--cd", "test", "localhost", "invalid",
                     "example", "onion", "arpa", "local", "123", "a" * 63, "a" * 64]),
)  # fmt: skip
_DOMAIN = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)
# 27 ASCII characters, 80 bytes of UTF-8 once decoded (U+20000 twenty times): email-validator
# counts the decoded form too, so a short ASCII address can be too long.
_WIDE = "xn--j50iaaaaaaaaaaaaaaaaaaa"


@settings(max_examples=1500, deadline=None)
@given(local=st.lists(_ATOM, min_size=1, max_size=3).map(".".join), domain=_DOMAIN,
       pad=st.sampled_from(["", " ", "\t\n"]), long_local=st.integers(0, 100))  # fmt: skip
@example(local="a", domain="example.com", pad="", long_local=0)
@example(local="a", domain="a" * 63 + "." + "b" * 63 + "." + "c" * 63 + ".com", pad="",
         long_local=64)  # fmt: skip
@example(local="a", domain="b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".com", pad="",
         long_local=60)  # fmt: skip
@example(local="a", domain=f"{_WIDE}.{_WIDE}.com", pad="", long_local=89)
@example(local="A.b+c", domain="Example.COM", pad=" ", long_local=0)
@example(local="a", domain="example.test", pad="", long_local=0)
@example(local="a", domain="ex--ample.com", pad="", long_local=0)
@example(local="a", domain="example.123", pad="", long_local=0)
def test_a_plain_email_reads_as_email_validator_reads_it(
    local: str, domain: str, pad: str, long_local: int
) -> None:
    raw = f"{pad}{local}{'x' * long_local}@{domain}{pad}"
    assert _outcome(addresses._email, raw) == _outcome(addresses._email_checked, raw)


@settings(max_examples=400, deadline=None)
@given(raw=st.text(alphabet=st.sampled_from("aZ09._+-@. \u00e9\u212a<>:"), max_size=30))
def test_any_text_of_email_characters_reads_as_email_validator_reads_it(raw: str) -> None:
    assert _outcome(addresses._email, raw) == _outcome(addresses._email_checked, raw)


def test_a_plain_email_skips_email_validator_and_an_unusual_one_does_not(monkeypatch: Any) -> None:
    calls: list[str] = []
    real = addresses.validate_email

    def counting(text: str, **options: Any) -> Any:
        calls.append(text)
        return real(text, **options)

    monkeypatch.setattr(addresses, "validate_email", counting)
    addresses._plain_domain.cache_clear()
    assert addresses._email("Ann.Lee+news@Example.com") == "ann.lee+news@example.com"
    assert addresses._email("bob@Example.com") == "bob@example.com"
    assert calls == ["x@Example.com"], "the domain is read once, the local parts not at all"
    assert addresses._email("anne@bücher.de") == "anne@xn--bcher-kva.de"
    assert calls[-1] == "anne@bücher.de", "an internationalized address takes the full path"
    with pytest.raises(InvalidAddress, match="special-use or reserved"):
        addresses._email("a@example.test")


# -- phone numbers: one parse, one classification, phonenumbers' facts

_CALLING_CODES = [1, 1, 1, 44, 49, 33, 39, 81, 61, 55, 91, 7, 86, 34, 353, 800, 808, 870, 882]


def _reference_facts(e164: str) -> tuple[Any, ...]:
    """What phonenumbers' composite functions say of a number parsed afresh."""
    number = phonenumbers.parse(e164, None)
    country = phonenumbers.region_code_for_number(number)
    names = tuple(number_timezones.time_zones_for_number(number))
    description = geocoder.description_for_number(number, "en") if country in ("US", "CA") else ""
    return names, description, country if country and country != "001" else None


@settings(max_examples=1500, deadline=None)
@given(code=st.sampled_from(_CALLING_CODES), national=st.integers(10**5, 10**11 - 1))
@example(code=1, national=4155550123)  # San Francisco
@example(code=1, national=8005550199)  # toll-free: every NANP zone
@example(code=1, national=6135550123)  # Ottawa
@example(code=44, national=7911123456)  # a UK mobile
@example(code=800, national=12345678)  # international freephone
def test_number_facts_are_phonenumbers_facts(code: int, national: int) -> None:
    try:
        e164 = addresses._phone(f"+{code}{national}", None)
    except InvalidAddress:
        return
    recipient.number_facts.cache_clear()
    facts = recipient.number_facts(e164)
    assert (facts.zone_names, facts.description, facts.country) == _reference_facts(e164)
    assert facts.zones == recipient._zones_named(facts.zone_names)


@settings(max_examples=300, deadline=None)
@given(national=st.integers(2_000_000_000, 9_999_999_999),
       spelling=st.sampled_from(["+1 {a} {b}-{c}", "({a}) {b}-{c}", "1-{a}-{b}-{c}",
                                 "{a}.{b}.{c}"]))  # fmt: skip
def test_the_normalizer_parse_gives_the_facts_a_fresh_parse_gives(
    national: int, spelling: str
) -> None:
    digits = str(national)
    raw = spelling.format(a=digits[:3], b=digits[3:6], c=digits[6:])
    try:
        e164 = addresses._phone(raw, "US")
    except InvalidAddress:
        return
    assert addresses._RECENT_PARSES.get(e164) is not None, "the parse is kept"
    recipient.number_facts.cache_clear()
    from_normalizer = recipient.number_facts(e164)
    addresses._RECENT_PARSES.clear()
    recipient.number_facts.cache_clear()
    assert recipient.number_facts(e164) == from_normalizer


def test_the_kept_parses_are_bounded() -> None:
    addresses._RECENT_PARSES.clear()
    for n in range(addresses.RECENT_PARSES + 5):
        addresses._phone(f"+1415{2000000 + n:07d}", None)
    assert 0 < len(addresses._RECENT_PARSES) <= addresses.RECENT_PARSES


def test_clearing_the_caches_forgets_every_address() -> None:
    addresses.normalize_address("sms", "+1 415 555 0123")
    addresses.normalize_address("email", "ann@example.com")
    addresses.clear_caches()
    assert addresses._normalize.cache_info().currsize == 0
    assert addresses._plain_domain.cache_info().currsize == 0
    assert not addresses._RECENT_PARSES


def test_a_number_never_normalized_is_parsed_afresh() -> None:
    addresses._RECENT_PARSES.clear()
    number, kind, region = addresses.parsed_number("+14155550123")
    assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == "+14155550123"
    assert kind == phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.UNKNOWN
    assert region == phonenumbers.region_code_for_number(number) == "US"
    with pytest.raises(phonenumbers.NumberParseException):
        addresses.parsed_number("not a number")


@settings(max_examples=1500, deadline=None)
@given(code=st.sampled_from([*_CALLING_CODES, 0, 999, 211]),
       national=st.integers(0, 10**12))  # fmt: skip
@example(code=1, national=4155550123)
@example(code=1, national=1234567890)  # no NANP region takes it
def test_a_number_is_valid_exactly_when_its_type_is_known(code: int, national: int) -> None:
    """The normalizer reads validity from the type it keeps (phonenumbers' own equivalence,
    pinned here in case a release changes it)."""
    try:
        number = phonenumbers.parse(f"+{code}{national}", None)
    except phonenumbers.NumberParseException:
        return
    known = phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.UNKNOWN
    assert phonenumbers.is_valid_number(number) == known


# -- pseudonyms: the prepared HMAC and the table base32 against the plain definition


@settings(max_examples=500, deadline=None)
@given(keys=st.lists(st.binary(min_size=16, max_size=160), min_size=1, max_size=3, unique=True),
       address=st.text(max_size=80))  # fmt: skip
@example(keys=[b"k" * 64], address="+14155550123")  # a key of exactly one block
@example(keys=[b"k" * 65], address="user@example.com")  # longer: hashed first (RFC 2104)
@example(keys=[b"k" * 16], address="\ud800")  # a lone surrogate, as surrogatepass encodes it
def test_pseudonyms_are_hmac_sha256_in_base32(keys: list[bytes], address: str) -> None:
    named = [(f"k{n}", key) for n, key in enumerate(keys)]
    refs = Pseudonyms(named).refs(address)
    assert refs == tuple(pseudonym(kid, key, address) for kid, key in named)
    assert all(len(ref.partition(":")[2]) == 26 for ref in refs)
