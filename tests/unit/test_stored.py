"""The consent table value (runtime/stored.py): the verdict memo, format 3, and the formats 1 and
2 it still reads."""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson
import pytest

from streams.policy.config import PolicyConfig
from streams.policy.engine import decide, intent_digest
from streams.policy.records import ConsentRecord, OptOutRecord, SendIntent, Verdict, parse_record
from streams.policy.state import STATE_FORMAT, RecipientState, apply, decode_state, encode_state
from streams.policy.times import epoch_ms
from streams.runtime.stored import (
    EMPTY,
    FORMAT,
    MEMO_SIZE,
    MemoEntry,
    Stored,
    StoredValueError,
    decode_stored,
    encode_stored,
)
from tests.builders import consent, intent, optout

CONFIG = PolicyConfig()


def read(obj: dict[str, Any]) -> Any:
    return parse_record(obj)


def granted() -> RecipientState:
    grant = read(consent(id="g1"))
    assert isinstance(grant, ConsentRecord)
    return apply(None, grant, CONFIG)


def decided(record: dict[str, Any], state: RecipientState | None) -> tuple[SendIntent, Verdict]:
    one = read(record)
    assert isinstance(one, SendIntent)
    return one, decide(one, state, {}, CONFIG).verdict


def round_trip(stored: Stored) -> Stored:
    return decode_stored(encode_stored(stored))


def same_verdict(repeat: Verdict, original: Verdict) -> None:
    """Field for field; `decided_at` as the wire keeps it (milliseconds)."""
    assert epoch_ms(repeat.decided_at) == epoch_ms(original.decided_at)
    assert replace(repeat, decided_at=original.decided_at) == original


@pytest.mark.parametrize(
    "record",
    [
        intent(id="allowed"),
        intent(id="third", sender="acme-partner"),  # no agreement: denied, agreement named
        intent(id="transactional", category="transactional"),
        intent(id="quiet", at="2026-06-01T12:00:00Z"),  # 05:00 in California: detail says why
        intent(id="legal", category="legal", channel="email"),
    ],
    ids=lambda r: r["id"],
)
def test_a_remembered_verdict_is_repeated_field_for_field(record: dict[str, Any]) -> None:
    state = granted()
    one, verdict = decided(record, state)
    entry = MemoEntry.of(verdict, one, intent_digest(one))
    remembered = round_trip(Stored(state).remember(entry)).recall(one.id)
    assert remembered is not None and remembered.repeats_exactly
    same_verdict(remembered.verdict(), verdict)


@pytest.mark.parametrize("held", [0, 1, MEMO_SIZE], ids=["empty memo", "one", "full"])
@pytest.mark.parametrize("version", ["same", "other", "no intent time"])
@pytest.mark.parametrize(
    "record",
    [
        intent(id="allowed"),
        intent(id="third", sender="acme-partner"),
        intent(id="transactional", category="transactional"),
        intent(id="quiet", at="2026-06-01T12:00:00Z"),
        intent(id="legal", category="legal", channel="email"),
    ],
    ids=lambda r: r["id"],
)
def test_a_verdict_remembered_straight_is_the_entry_remembered(
    record: dict[str, Any], held: int, version: str
) -> None:
    """`remember_verdict` writes the row `remember(MemoEntry.of(...))` writes, byte for byte:
    into an empty memo, one that holds entries of the verdict's policy version or another's,
    and a full one."""
    state = granted()
    stored = Stored(state)
    for n in range(held):
        earlier, verdict = decided(intent(id=f"e{n}"), state)
        if version == "other":
            verdict = replace(verdict, policy_version="older-policy")
        stored = stored.remember(MemoEntry.of(verdict, earlier, intent_digest(earlier)))
    one, verdict = decided(record, state)
    if version == "no intent time":  # as an entry of an older format would be read back
        verdict = replace(verdict, intent_at=None, rules_evaluated=("other", "rules"))
    digest = intent_digest(one)
    straight = encode_stored(stored.remember_verdict(verdict, one, digest))
    assert straight == encode_stored(stored.remember(MemoEntry.of(verdict, one, digest)))
    assert decode_stored(straight).recall(one.id) is not None


def test_the_repeat_names_the_records_the_verdict_relied_on() -> None:
    state = granted()
    allowed, first = decided(intent(id="m1"), state)
    late = read(optout(id="o1", at="2026-06-01T20:00:00Z"))
    assert isinstance(late, OptOutRecord)
    state = apply(state, late, CONFIG)
    denied, second = decided(intent(id="m2", at="2026-06-01T21:00:00Z"), state)
    stored = Stored(state)
    for one, verdict in ((allowed, first), (denied, second)):
        stored = stored.remember(MemoEntry.of(verdict, one, intent_digest(one)))
    again = round_trip(stored)
    repeat_allow, repeat_deny = (again.recall(i) for i in ("m1", "m2"))
    assert repeat_allow is not None and repeat_deny is not None
    assert repeat_allow.verdict().grant_id == "g1"
    assert (repeat_deny.verdict().reason, repeat_deny.verdict().optout_id) == ("OPTED_OUT", "o1")
    same_verdict(repeat_deny.verdict(), second)


def test_entries_keep_what_late_optouts_need() -> None:
    one, verdict = decided(intent(id="m1"), granted())
    entry = round_trip(Stored(granted()).remember(MemoEntry.of(verdict, one, b"d" * 16))).memo[0]
    assert (entry.intent_at_ms, entry.sender, entry.channel, entry.category) == (
        epoch_ms(one.at), "company", "sms", "promotional",
    )  # fmt: skip
    assert entry.jurisdiction == "US" and entry.digest == b"d" * 16


def test_the_memo_keeps_the_newest_entries_only() -> None:
    state = granted()
    stored = Stored(state)
    for n in range(MEMO_SIZE + 3):
        one, verdict = decided(intent(id=f"m{n}"), state)
        stored = stored.remember(MemoEntry.of(verdict, one, intent_digest(one)))
    again = round_trip(stored)
    assert [e.intent_id for e in again.memo] == [f"m{n}" for n in range(3, MEMO_SIZE + 3)]
    assert again.recall("m2") is None and again.recall("m3") is not None


def test_a_new_policy_version_keeps_every_entry_s_own() -> None:
    state = granted()
    stored = Stored(state)
    for n, version in enumerate(("v1", "v1", "v2", "v1")):
        one, verdict = decided(intent(id=f"m{n}"), state)
        entry = MemoEntry.of(replace(verdict, policy_version=version), one, intent_digest(one))
        stored = stored.remember(entry)
    assert [e.policy_version for e in round_trip(stored).memo] == ["v1", "v1", "v2", "v1"]


def test_the_value_stays_compact() -> None:
    """Per entry, what a fresh allow needs and no more: no repeated reasons, rules, policy
    version or trailing nulls (the rest is measured in benchmarks/bench_stored.py)."""
    state = granted()
    one, verdict = decided(intent(id="m1"), state)
    data = encode_stored(Stored(state).remember(MemoEntry.of(verdict, one, intent_digest(one))))
    default, (row,) = orjson.loads(data[5 + len(encode_state(state)) :])
    assert default == verdict.policy_version
    assert row[3] is None and row[5] is None  # reasons == [reason]; the default version
    assert row[-1] is not None  # trailing nulls dropped
    assert "CONSENT_VALID" in row and verdict.rules_evaluated[0] not in row


def test_a_read_state_that_did_not_change_is_written_back_as_it_was() -> None:
    """Only the memo changed: the state's bytes are copied, not encoded again. The bytes here
    are not what encode_state writes (an opt-out row without its id slot), so a re-encoding
    would show."""
    state_bytes = bytes([STATE_FORMAT]) + orjson.dumps([[], [["sms", None, 1780340400000]], []])
    assert encode_state(decode_state(state_bytes)) != state_bytes
    value = struct.pack(">BI", FORMAT, len(state_bytes)) + state_bytes + orjson.dumps([None, []])
    stored = decode_stored(value)
    one, verdict = decided(intent(id="m1"), stored.state)
    entry = MemoEntry.of(verdict, one, intent_digest(one))
    again = encode_stored(stored.with_state(stored.state).remember(entry))
    assert again[5 : 5 + len(state_bytes)] == state_bytes
    assert round_trip(decode_stored(again)).recall("m1") == entry


def test_a_changed_state_is_encoded_anew() -> None:
    """The kept bytes belong to the state read: a new state (an opt-out applied) drops them."""
    stored = decode_stored(encode_stored(Stored(granted())))
    record = read(optout(id="o1"))
    assert isinstance(record, OptOutRecord)
    changed = apply(stored.state, record, CONFIG)
    assert changed != stored.state
    assert round_trip(stored.with_state(changed)).state == changed
    assert round_trip(stored.remember(MemoEntry("m1", "allow", "X", ("X",), 1, "p"))).state == (
        stored.state
    )


def test_a_state_in_an_older_format_is_rewritten_in_the_current_one() -> None:
    older = bytes([2]) + orjson.dumps(
        [[["sms", "company", [1780340400000, "express"], []]], [], []]
    )
    value = struct.pack(">BI", FORMAT, len(older)) + older + orjson.dumps([None, []])
    written = encode_stored(
        decode_stored(value).remember(MemoEntry("m1", "allow", "X", ("X",), 1, "p"))
    )
    assert written[5] == STATE_FORMAT
    assert decode_stored(written).state == decode_state(older)


# ---------------------------------------------------------------- older formats


def legacy_value(version: int, rows: list[list[Any]]) -> bytes:
    state = encode_state(granted())
    return struct.pack(">BI", version, len(state)) + state + orjson.dumps(rows)


DECIDED_MS = 1780340400250


def test_format_1_still_decodes() -> None:
    data = legacy_value(1, [["m1", "allow", "CONSENT_VALID", ["CONSENT_VALID"], DECIDED_MS, "p"]])
    stored = decode_stored(data)
    assert stored.state == granted()
    entry = stored.recall("m1")
    assert entry == MemoEntry("m1", "allow", "CONSENT_VALID", ("CONSENT_VALID",), DECIDED_MS, "p")
    assert not entry.repeats_exactly  # the gate echoes the rest from the intent, as before


def test_format_2_still_decodes_and_is_rewritten_as_format_3() -> None:
    digest = bytes(range(16))
    rows = [
        ["m1", "deny", "NO_CONSENT", ["NO_CONSENT", "QUIET_HOURS"], DECIDED_MS, "p", digest.hex()],
        ["m2", "allow", "TRANSACTIONAL", ["TRANSACTIONAL"], DECIDED_MS + 1, "p", digest.hex()],
    ]
    stored = decode_stored(legacy_value(2, rows))
    first = stored.recall("m1")
    assert first is not None and first.digest == digest
    assert first.reasons == ("NO_CONSENT", "QUIET_HOURS") and first.decided_at_ms == DECIDED_MS
    rewritten = encode_stored(stored)
    assert rewritten[0] == FORMAT == 3
    assert decode_stored(rewritten) == stored
    assert decode_stored(rewritten).recall("m2") == stored.recall("m2")


@pytest.mark.parametrize(
    "data",
    [
        b"\x03",
        struct.pack(">BI", 9, 0),
        legacy_value(3, [["m1"]]),  # format 3 wants [default, entries]
        legacy_value(2, [["m1", "allow"]]),
        legacy_value(3, [None, [[1, "allow", "X", None, 0]]]),  # the id is not a string
        struct.pack(">BI", 3, 1) + b"\x03" + b"{not json",
    ],
)
def test_a_value_that_does_not_read_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):  # StoredValueError, or the state's own decode error
        decode_stored(data)


def test_an_entry_that_does_not_read_is_refused_when_read() -> None:
    data = legacy_value(3, ["p", [["m1", "allow", "X", None, "not a time"]]])
    with pytest.raises(StoredValueError):
        decode_stored(data).recall("m1")


def test_nothing_stored_is_the_empty_value() -> None:
    assert decode_stored(None) is EMPTY and decode_stored(b"") is EMPTY
    assert EMPTY.memo == () and EMPTY.recall("m1") is None


def test_decided_at_is_kept_to_the_millisecond() -> None:
    one, verdict = decided(intent(id="m1"), granted())
    verdict = replace(
        verdict, decided_at=datetime.fromisoformat("2026-06-01T19:00:00.123456+00:00")
    )
    entry = MemoEntry.of(verdict, one, intent_digest(one))
    repeat = round_trip(Stored(granted()).remember(entry)).memo[0].verdict()
    assert repeat.decided_at == datetime.fromisoformat("2026-06-01T19:00:00.123+00:00")
