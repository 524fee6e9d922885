"""Complaints (issue 15 §4): read like opt-outs, applied as opt-outs, acknowledged or overdue,
and exactly one COMPLAINT_ACK_OVERDUE violation per overdue complaint."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from streams.policy.complaints import (
    COMPLAINT_ACK_OVERDUE,
    OpenComplaint,
    acknowledge,
    decode_complaint,
    encode_complaint,
    overdue,
    receive,
)
from streams.policy.config import PolicyConfig
from streams.policy.engine import decide
from streams.policy.errors import InvalidRecord
from streams.policy.records import (
    ComplaintAckRecord,
    ComplaintRecord,
    ConsentRecord,
    SendIntent,
    Verdict,
    Violation,
    parse_record,
)
from streams.policy.replay import LineError, Replay, replay_records
from streams.policy.state import Agreements, RecipientState, apply, complaint
from tests.builders import PHONE, consent, intent

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "complaint-scenarios"
CONFIG = PolicyConfig()


def complaint_obj(**fields: Any) -> dict[str, Any]:
    base = {
        "type": "complaint",
        "id": "k1",
        "at": "2026-06-01T14:00:00Z",
        "channel": "email",
        "address": "Pat@Example.com",
        "party": None,
        "jurisdiction": "US",
        "text": "Stop e-mailing me.",
    }
    return {**base, **fields}


def read_complaint(**fields: Any) -> ComplaintRecord:
    record = parse_record(complaint_obj(**fields))
    assert isinstance(record, ComplaintRecord)
    return record


def read_ack(**fields: Any) -> ComplaintAckRecord:
    obj = {"type": "complaint_ack", "id": "a1", "complaint_id": "k1", "at": "2026-06-02T09:00:00Z"}
    record = parse_record({**obj, **fields})
    assert isinstance(record, ComplaintAckRecord)
    return record


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


# ---------------------------------------------------------------- reading


def test_a_complaint_reads_with_a_canonical_recipient() -> None:
    record = read_complaint()
    assert (record.channel, record.address, record.party) == ("email", "pat@example.com", None)
    assert record.repairs == ()


def test_a_messy_complaint_is_still_read_and_says_what_was_repaired() -> None:
    record = read_complaint(
        type="Complaint", channel="E-mail", jurisdiction="usa", at="yesterday", text=None,
        region="US-XX", timezone=7, party={"not": "a party"},
    )  # fmt: skip
    assert record.address == "pat@example.com" and record.channel == "email"
    assert record.at is None and record.party is None and record.region is None
    assert record.jurisdiction == "US" and record.timezone is None
    joined = "; ".join(record.repairs)
    for fragment in ("channel", "jurisdiction", "at", "text missing", "region", "timezone"):
        assert fragment in joined


def test_a_complaint_without_an_id_gets_a_stable_derived_one() -> None:
    first = read_complaint(id=None)
    again = read_complaint(id=None)
    assert first.id == again.id and first.id.startswith("complaint-")


def test_a_complaint_whose_address_does_not_read_is_invalid() -> None:
    with pytest.raises(InvalidRecord):
        parse_record(complaint_obj(address="not an address"))


def test_an_ack_is_read_strictly() -> None:
    assert read_ack().complaint_id == "k1"
    with pytest.raises(InvalidRecord):
        parse_record({"type": "complaint_ack", "complaint_id": "k1", "at": "soon"})
    with pytest.raises(InvalidRecord):
        parse_record({"type": "complaint_ack", "at": "2026-06-02T09:00:00Z"})


def test_an_ack_may_name_its_complaint_by_id_and_be_spelled_with_a_hyphen() -> None:
    record = parse_record({"type": "complaint-ack", "id": "k9", "at": "2026-06-02T09:00:00Z"})
    assert isinstance(record, ComplaintAckRecord) and record.complaint_id == "k9"


# ---------------------------------------------------------------- a complaint is an opt-out


def decide_one(obj: dict[str, Any], state: RecipientState | None) -> str:
    record = parse_record(obj)
    assert isinstance(record, SendIntent)
    return decide(record, state, Agreements(), CONFIG).verdict.reason


def test_a_complaint_naming_no_party_opts_out_of_every_party() -> None:
    grant = parse_record(consent(id="g1"))  # sms, to PHONE, from the first party
    assert isinstance(grant, ConsentRecord)
    state = apply(None, grant, CONFIG)
    assert decide_one(intent(id="m1"), state) == "CONSENT_VALID"
    later = read_complaint(channel="sms", address=PHONE, at="2026-06-01T20:00:00Z")
    state = complaint(state, later, CONFIG)
    assert decide_one(intent(id="m2", at="2026-06-02T16:00:00Z"), state) == "OPTED_OUT"


def test_a_complaint_naming_a_party_opts_out_of_that_party_only() -> None:
    record = read_complaint(party="acme-partner")
    optout = record.as_optout()
    assert (optout.method, optout.party, optout.id) == ("complaint", "acme-partner", "k1")
    state = complaint(None, record, CONFIG)
    assert state.covering_optout_at("email", "acme-partner") is not None
    assert state.covering_optout_at("email", "company") is None


# ---------------------------------------------------------------- deadlines and violations


def test_an_unacknowledged_complaint_is_due_once_the_clock_reaches_its_deadline() -> None:
    entry = receive(None, read_complaint(at="2026-05-15T14:00:00Z"))
    assert entry.deadline_ms == ms("2026-05-23T04:00:00+00:00")
    assert overdue([entry], ms("2026-05-23T03:59:59.999+00:00")) == []
    (due,) = overdue([entry], ms("2026-05-23T04:00:00+00:00"))
    violation = due.violation("v1")
    assert (violation.rule, violation.complaint_id, violation.severity) == (
        COMPLAINT_ACK_OVERDUE, "k1", "high",
    )  # fmt: skip
    assert violation.id == "k1:COMPLAINT_ACK_OVERDUE"
    assert overdue([due.with_violation()], ms("2027-01-01T00:00:00+00:00")) == []


def test_an_ack_in_time_closes_it_and_a_late_one_does_not_excuse_it() -> None:
    entry = receive(None, read_complaint(at="2026-05-15T14:00:00Z"))
    in_time = acknowledge(entry, read_ack(at="2026-05-23T03:59:59Z"))
    late = acknowledge(entry, read_ack(at="2026-05-23T04:00:00Z"))
    far = ms("2027-01-01T00:00:00+00:00")
    assert overdue([in_time], far) == [] and not in_time.waiting
    assert [c.complaint_id for c in overdue([late], far)] == ["k1"]


def test_an_ack_before_its_complaint_is_remembered() -> None:
    acked = acknowledge(None, read_ack(at="2026-05-16T09:00:00Z"))
    assert acked.acked_only
    entry = receive(acked, read_complaint(at="2026-05-15T14:00:00Z"))
    assert entry.acked_in_time and overdue([entry], ms("2027-01-01T00:00:00+00:00")) == []


def test_redelivery_changes_nothing() -> None:
    record = read_complaint(at="2026-05-15T14:00:00Z")
    entry = receive(None, record).with_violation()
    assert receive(entry, record) is entry
    moved = read_complaint(at="2026-06-15T14:00:00Z")  # the same id, a later date
    assert receive(entry, moved) is entry
    acked = acknowledge(entry, read_ack(at="2026-05-20T09:00:00Z"))
    assert acknowledge(acked, read_ack(at="2026-05-21T09:00:00Z")) is acked


def test_table_entries_round_trip() -> None:
    entry = acknowledge(receive(None, read_complaint(party="acme-partner")), read_ack())
    for value in (entry, entry.with_violation(), OpenComplaint("x", acked_at_ms=5)):
        assert decode_complaint(encode_complaint(value)) == value
    with pytest.raises(ValueError):
        decode_complaint(b"\x09[]")


# ---------------------------------------------------------------- replay


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("events", sorted(SCENARIOS.glob("*.events.jsonl")), ids=lambda p: p.stem)
def test_replay_scenarios(events: Path) -> None:
    replay = Replay(CONFIG)
    verdicts: list[Verdict] = []
    violations: list[tuple[str, str, int]] = []
    for number, text in enumerate(events.read_text().splitlines(), start=1):
        for item in replay.feed_line(text, number):
            if isinstance(item, Verdict):
                verdicts.append(item)
            elif isinstance(item, Violation):
                assert item.deadline is not None and item.complaint_id is not None
                deadline = item.deadline.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                violations.append((item.complaint_id, deadline, number))
            else:
                pytest.fail(f"unexpected line error {item}")
    expected = lines_of(events.with_name(events.name.replace(".events.", ".expected.")))
    assert [(v.id, v.decision, v.reason) for v in verdicts] == [
        (e["id"], e["decision"], e["reason"]) for e in expected
    ]
    wanted = lines_of(events.with_name(events.name.replace(".events.", ".violations.")))
    assert violations == [(w["complaint_id"], w["deadline"], w["after_line"]) for w in wanted]


def test_a_clock_line_that_does_not_read_is_reported_and_changes_nothing() -> None:
    lines = [
        json.dumps(complaint_obj(at="2026-05-15T14:00:00Z")),
        '{"type": "clock", "at": "next week"}',
        '{"type": "clock", "at": "2026-05-23T04:00:00Z"}',
    ]
    results = list(replay_records(lines))
    assert isinstance(results[0], LineError) and results[0].line == 2
    assert [r.complaint_id for r in results[1:] if isinstance(r, Violation)] == ["k1"]


def test_the_replay_command_prints_violations_as_typed_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.events.jsonl"
    path.write_text(
        json.dumps(complaint_obj(at="2026-05-15T14:00:00Z")) + "\n"
        + json.dumps(intent(id="m1", at="2026-06-01T19:00:00Z")) + "\n"
    )  # fmt: skip
    assert main(["replay", str(path)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o.get("type") for o in out] == [None, "violation"]
    violation = out[1]
    assert violation["rule"] == COMPLAINT_ACK_OVERDUE and violation["complaint_id"] == "k1"
    assert violation["deadline"] == "2026-05-23T04:00:00.000Z"
    assert datetime.fromisoformat(violation["at"]) == datetime(2026, 5, 23, 4, tzinfo=UTC)
