"""Properties over generated bad input (issue 11 §2, §3, §5): parse_record raises nothing but
InvalidRecord on any JSON-like record; any instant from year 1 to 9999 with any offset reads or is
refused with a clear error, and an intent at it gets a verdict; an opt-out whose recipient reads
is applied whatever its other fields hold; every spelling of one recipient or party is one key."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.policy.errors import InvalidRecord
from streams.policy.records import OptOutRecord, SendIntent, Verdict, parse_record
from streams.policy.replay import LineError, replay_records
from streams.policy.times import parse_instant
from tests.unit.badinput.cases import SF, grant, intent, optout

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m))
)
_edge_datetimes = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 3)),
    st.datetimes(min_value=datetime(9999, 12, 29), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.datetimes(),
)
_texts = st.text(
    alphabet=st.characters(codec=None, exclude_categories=("Cs",)), max_size=30
) | st.sampled_from(["", " ", "\ufeff", "\u200b", "\u202e", "SMS", "USA", "Z", "23:59:60"])
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False), _texts,
)  # fmt: skip
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_texts, inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
_FIELDS = ("id", "type", "at", "channel", "address", "party", "sender", "purpose", "action",
           "evidence", "jurisdiction", "method", "agreement", "expires", "category",
           "has_opt_out", "body", "timezone", "campaign", "region", "subject", "basis")  # fmt: skip


@st.composite
def _instant_texts(draw: st.DrawFn) -> str:
    moment = draw(_edge_datetimes).replace(tzinfo=draw(_offsets))
    text = moment.isoformat()
    return draw(st.sampled_from([text, text.replace("+00:00", "Z"), text.replace("T", " ")]))


@st.composite
def _records(draw: st.DrawFn) -> dict[str, Any]:
    base = draw(st.sampled_from([grant(), optout(), intent(), {"type": "partner", "id": "p",
                                 "at": "2026-06-01T00:00:00Z", "party": "acme",
                                 "agreement": "signed"}]))  # fmt: skip
    record = dict(base)
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=4, unique=True)):
        record[name] = draw(_values | _instant_texts())
    return record


@FAST
@given(record=_records())
def test_parse_never_raises_anything_but_invalid_record(record: dict[str, Any]) -> None:
    try:
        parse_record(record)
    except InvalidRecord as exc:
        assert exc.message and len(exc.message) < 1000


@FAST
@given(text=_instant_texts())
def test_every_instant_at_the_edges_reads_or_says_why(text: str) -> None:
    try:
        moment = parse_instant(text, "at")
    except ValueError as exc:
        assert "at" in str(exc)
        return
    assert moment.tzinfo is UTC and datetime(1, 1, 1, tzinfo=UTC) <= moment


@FAST
@given(text=_instant_texts(), category=st.sampled_from(["promotional", "transactional"]),
       channel=st.sampled_from(["sms", "email"]))  # fmt: skip
def test_an_intent_at_any_edge_instant_gets_a_verdict(
    text: str, category: str, channel: str
) -> None:
    address = SF if channel == "sms" else "alice@example.com"
    lines = [
        orjson.dumps(grant(channel, address, at="0001-01-01T00:00:00Z")).decode(),
        orjson.dumps(intent(channel, address, at=text, category=category)).decode(),
    ]
    results = list(replay_records(lines))
    verdicts = [r for r in results if isinstance(r, Verdict)]
    assert len(verdicts) == 1 and verdicts[0].id == "m1"
    if verdicts[0].reason == "INVALID_INTENT":
        assert any(isinstance(r, LineError) and r.line == 2 for r in results)


@FAST
@given(damage=st.dictionaries(st.sampled_from(["at", "method", "party", "jurisdiction", "id"]),
                              _values | _instant_texts(), max_size=5))  # fmt: skip
def test_an_optout_whose_recipient_reads_is_always_applied(damage: dict[str, Any]) -> None:
    record = parse_record({**optout(), **damage})
    assert isinstance(record, OptOutRecord) and record.address == SF
    replayed = list(replay_records([orjson.dumps(line).decode() for line in
                                    (grant(), {**optout(), **damage}, intent())]))  # fmt: skip
    verdict = [r for r in replayed if isinstance(r, Verdict)][-1]
    # A readable `at` before the grant is an old opt-out the later grant overrides, and a readable
    # party other than the sender is another party's opt-out (contract).
    covers = record.party in (None, "company")
    if covers and (record.at is None or record.at >= parse_instant(grant()["at"], "at")):
        assert verdict.reason == "OPTED_OUT", (damage, record.repairs)
    else:
        assert verdict.reason == "CONSENT_VALID", (damage, record.repairs)


_LOCAL_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzäöüéß0123456789._-")


@FAST
@given(local=st.text(_LOCAL_CHARS, min_size=1, max_size=10).filter(
           lambda s: s[0] not in "._" and s[-1] not in "._" and ".." not in s),
       domain=st.sampled_from(["bücher.de", "xn--bcher-kva.de", "例え.jp", "example.com"]),
       upper=st.booleans(), decompose=st.booleans(),
       pad=st.sampled_from(["", " ", "\t"]))  # fmt: skip
def test_every_spelling_of_one_mailbox_is_one_recipient_key(
    local: str, domain: str, upper: bool, decompose: bool, pad: str
) -> None:
    plain = intent("email", f"{local}@{domain}")
    spelled_local = unicodedata.normalize("NFD", local) if decompose else local
    if upper:
        spelled_local = "".join(c.upper() if len(c.upper()) == 1 else c for c in spelled_local)
    spelled = intent("email", f"{pad}{spelled_local}@{domain.upper()}{pad}")
    first, second = parse_record(plain), parse_record(spelled)
    assert isinstance(first, SendIntent) and isinstance(second, SendIntent)
    assert first.address == second.address


@FAST
@given(party=st.text(st.sampled_from("abcxyzACME-_ .0123456789äÄ"), min_size=1, max_size=20),
       pad=st.sampled_from(["", " ", "  "]), fullwidth=st.booleans())  # fmt: skip
def test_every_spelling_of_one_party_is_one_key(party: str, pad: str, fullwidth: bool) -> None:
    try:
        canonical = parse_record(grant(party=party)).party  # type: ignore[union-attr]
    except InvalidRecord:
        return
    spelled = party.swapcase()
    if fullwidth:
        spelled = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in spelled)
    for kind in (grant(party=pad + spelled + pad), optout(party=spelled)):
        assert parse_record(kind).party == canonical  # type: ignore[union-attr]
    assert parse_record(intent(sender=spelled)).sender == canonical  # type: ignore[union-attr]
