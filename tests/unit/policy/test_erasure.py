"""Erasure (issue 15 §6), the pure part: requests read strictly, the marker, the erased view an
intent is decided on, and the replay (scenario files through `consentgate replay`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from streams.policy.config import PolicyConfig
from streams.policy.engine import decide
from streams.policy.erasure import (
    MARKER_PREFIX,
    ErasureMarker,
    MarkerError,
    decode_marker,
    encode_marker,
    erased_view,
    kept,
    mark,
    marker_key,
)
from streams.policy.errors import InvalidRecord
from streams.policy.pseudonym import Pseudonyms
from streams.policy.records import (
    ConsentRecord,
    ErasureRecord,
    OptOutRecord,
    SendIntent,
    parse_record,
)
from streams.policy.replay import LineError, Replay
from streams.policy.state import Agreements, RecipientState, apply
from streams.policy.times import epoch_ms
from tests.builders import PHONE, consent, intent, optout

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "erasure-scenarios"
CONFIG = PolicyConfig()
ERASED_AT = "2026-06-01T18:00:00Z"
TRANSACTIONAL = {"category": "transactional", "has_opt_out": False, "body": "Order 12 shipped."}


def erasure(**fields: Any) -> dict[str, Any]:
    base = {
        "type": "erasure", "id": "e1", "at": ERASED_AT, "address": "(415) 555-0101",
        "channel": "sms", "jurisdiction": "US", "requested_by": "dpo-7", "reason": "ticket 1",
    }  # fmt: skip
    return {**base, **fields}


def read(**fields: Any) -> ErasureRecord:
    record = parse_record(erasure(**fields))
    assert isinstance(record, ErasureRecord)
    return record


def ms(text: str) -> int:
    return epoch_ms(datetime.fromisoformat(text))


def state_of(*records: dict[str, Any]) -> RecipientState:
    state = RecipientState()
    for obj in records:
        record = parse_record(obj)
        assert isinstance(record, ConsentRecord | OptOutRecord)
        state = apply(state, record, CONFIG)
    return state


def decided(obj: dict[str, Any], state: RecipientState, marker: ErasureMarker) -> Any:
    record = parse_record(obj)
    assert isinstance(record, SendIntent)
    view = erased_view(state, marker, record.channel, CONFIG)
    return decide(record, view, Agreements(), CONFIG), view


# ---------------------------------------------------------------- reading: strict on whom


def test_a_request_reads_with_the_normalized_address() -> None:
    record = read()
    assert (record.address, record.channel, record.jurisdiction) == (PHONE, "sms", "US")
    assert record.at == datetime(2026, 6, 1, 18, tzinfo=UTC)
    assert (record.requested_by, record.reason) == ("dpo-7", "ticket 1")


@pytest.mark.parametrize(
    ("address", "expected"),
    [("Pat@Example.com", ("pat@example.com", "email")), ("+14155550101", (PHONE, "sms"))],
)
def test_without_a_channel_the_address_says_which(address: str, expected: tuple[str, str]) -> None:
    record = read(address=address, channel=None, jurisdiction=None)
    assert (record.address, record.channel) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"address": "four one five 555 0101"},  # letters in a phone number
        {"address": "+1415555\u200b0101"},  # a zero-width space hides a digit
        {"address": "+1415555\x000101"},
        {"address": "4155550101", "jurisdiction": None},  # national, no country to read it in
        {"address": "+1" + "5" * 600},
        {"address": None},
        {"address": ["+14155550101"]},
        {"address": {"number": "+14155550101"}},
        {"address": 14155550101},
        {"channel": "pigeon"},
        {"channel": 7},
        {"jurisdiction": "United States"},  # a wrong country would read another number
        {"jurisdiction": 1},
        {"id": None},
        {"id": ""},
        {"id": "x" * 300},
        {"requested_by": 42},
        {"requested_by": "x" * 300},
        {"reason": "x" * 2000},
        {"type": "optout"},
    ],
    ids=repr,
)
def test_a_request_that_could_name_the_wrong_person_is_refused(changes: dict[str, Any]) -> None:
    obj = erasure(**changes)
    with pytest.raises(InvalidRecord):
        parse_record(obj, kind="erasure")


@pytest.mark.parametrize("at", [None, "yesterday", "2026-06-01T18:00:00", 1780000000000, True])
def test_an_unreadable_at_means_when_received(at: Any) -> None:
    received = datetime(2026, 6, 2, 9, 30, 0, 123456, tzinfo=UTC)
    record = parse_record(erasure(at=at), received_at=received)
    assert isinstance(record, ErasureRecord)
    assert record.at == datetime(2026, 6, 2, 9, 30, 0, 123000, tzinfo=UTC)
    unreceived = parse_record(erasure(at=at))
    assert isinstance(unreceived, ErasureRecord) and unreceived.at is None


# ---------------------------------------------------------------- the marker


def test_a_marker_round_trips_and_garbage_is_refused() -> None:
    marker = ErasureMarker(ms(ERASED_AT), "e1")
    assert decode_marker(encode_marker(marker)) == marker
    assert marker.optout_id == "erasure:e1"
    for bad in (b"", b'\x02[1,"e"]', b"\x01not json", b'\x01["1","e"]', b"\x01[1]"):
        with pytest.raises(MarkerError):
            decode_marker(bad)


def test_the_marker_key_is_no_address_and_carries_only_the_pseudonym() -> None:
    pseudonyms = Pseudonyms([("k1", b"k" * 32)])
    key = marker_key(pseudonyms.ref(PHONE))
    assert key.startswith(MARKER_PREFIX) and key[:1] == b"\x00"
    assert PHONE.encode() not in key and b"4155550101" not in key
    assert key != marker_key(pseudonyms.ref("+14155550102"))


def test_mark_keeps_the_latest_time() -> None:
    first = mark(None, ms(ERASED_AT), "e1", None)
    assert first == ErasureMarker(ms(ERASED_AT), "e1")
    assert mark(first, ms("2026-05-01T00:00:00Z"), "e0", None) is first  # older: no move back
    assert mark(first, ms(ERASED_AT), "e1", None) is first  # redelivered
    later = mark(first, ms("2026-07-01T00:00:00Z"), "e2", None)
    assert later == ErasureMarker(ms("2026-07-01T00:00:00Z"), "e2")


def test_mark_never_ends_an_opt_out_of_the_erased_state_sooner() -> None:
    held = state_of(optout(id="o1", at="2026-06-03T00:00:00Z", party="company"))
    marker = mark(None, ms(ERASED_AT), "e1", held)
    assert marker.at_ms == ms("2026-06-03T00:00:00Z")


# ---------------------------------------------------------------- deciding on the erased view


MARKER = ErasureMarker(ms(ERASED_AT), "e1")


def test_promotional_after_an_erasure_is_opted_out_naming_it() -> None:
    (decision, _) = decided(intent(id="m1"), RecipientState(), MARKER)
    verdict = decision.verdict
    assert (verdict.decision, verdict.reason, verdict.optout_id) == (
        "deny",
        "OPTED_OUT",
        "erasure:e1",
    )


def test_a_grant_dated_before_the_erasure_never_counts_one_after_does() -> None:
    before = state_of(consent(id="g0", at="2026-06-01T17:59:59Z"))
    (decision, _) = decided(intent(id="m1"), before, MARKER)
    assert decision.verdict.reason == "OPTED_OUT"
    after = state_of(consent(id="g2", at="2026-06-01T18:00:01Z"))
    (decision, _) = decided(intent(id="m2"), after, MARKER)
    assert (decision.verdict.reason, decision.verdict.grant_id) == ("CONSENT_VALID", "g2")


def test_every_party_and_channel_is_covered_transactional_is_not() -> None:
    granted = state_of(consent(id="g", party="acme", channel="email", at="2026-06-01T10:00:00Z"))
    email = intent(
        id="m1", channel="email", sender="acme", body="15% off. Unsubscribe: https://x.example/u"
    )
    (decision, _) = decided(email, granted, MARKER)
    assert "OPTED_OUT" in decision.verdict.reasons
    (decision, _) = decided(intent(id="m2", **TRANSACTIONAL), RecipientState(), MARKER)
    assert (decision.verdict.decision, decision.verdict.reason) == ("allow", "TRANSACTIONAL")


def test_an_erasure_is_no_opt_out_to_confirm() -> None:
    confirmation = intent(id="m1", category="optout_confirmation", has_opt_out=False,
                          body="You will get no more messages from us.")  # fmt: skip
    (decision, _) = decided(confirmation, RecipientState(), MARKER)
    assert decision.verdict.decision == "deny"


def test_the_view_is_never_stored_only_a_confirmation_it_made() -> None:
    stored = state_of(optout(id="o9", at="2026-06-01T18:58:00Z", party="company"))  # US: 5 min
    confirmation = intent(id="m1", category="optout_confirmation", has_opt_out=False,
                          body="You will get no more messages from us.")  # fmt: skip
    (decision, view) = decided(confirmation, stored, MARKER)
    assert decision.verdict.decision == "allow" and decision.new_state is not None
    after = kept(decision.new_state, view, stored)
    assert after.optouts == stored.optouts and after.optout_ids == stored.optout_ids
    assert [m.confirmed_by for m in after.recent_optouts] == ["m1"]
    assert kept(view, view, stored) is stored
    assert erased_view(stored, MARKER, "sms", CONFIG) != stored


# ---------------------------------------------------------------- the replay


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("events", sorted(SCENARIOS.glob("*.events.jsonl")), ids=lambda p: p.stem)
def test_scenarios_through_the_replay_command(
    events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(events)]) == 0
    out, err = capsys.readouterr()
    printed = [json.loads(line) for line in out.splitlines()]
    expected = lines_of(events.with_name(events.name.replace(".events.", ".expected.")))
    assert [(v["id"], v["decision"], v["reason"]) for v in printed] == [
        (e["id"], e["decision"], e["reason"]) for e in expected
    ]
    assert all("type" not in v for v in printed), "an erasure prints nothing on stdout"
    erasure_lines = [
        n for n, obj in enumerate(lines_of(events), start=1) if obj.get("type") == "erasure"
    ]
    refused = [n for n in erasure_lines if f"line {n}: " in err]
    if events.stem.startswith("03-"):
        assert refused == erasure_lines  # every request there is refused, nothing erased
    else:
        assert refused == [] and "line " not in err


def test_a_refused_erasure_leaves_the_state_and_a_line_error() -> None:
    replay = Replay(CONFIG)
    replay.feed(consent(id="g1"), 1)
    [error] = replay.feed(erasure(address="+1415555\u200b0101"), 2)
    assert isinstance(error, LineError) and error.kind == "erasure" and error.record_id == "e1"
    assert replay.erased == {} and PHONE in replay.states


def test_an_erasure_forgets_the_state_and_keeps_only_the_marker() -> None:
    replay = Replay(CONFIG)
    replay.feed(consent(id="g1"), 1)
    assert replay.feed(erasure(), 2) == []
    assert PHONE not in replay.states
    assert replay.erased == {PHONE: ErasureMarker(ms(ERASED_AT), "e1")}
