"""Delivery reconciliation (issue 15 §5): reading delivery reports, classifying them against
the verdict, the worker's entry, and the replay scenarios run through `consentgate replay`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from streams.policy.config import PolicyConfig
from streams.policy.deliveries import (
    MAX_DELIVERIES,
    OK,
    SENT_AFTER_DENY,
    SENT_WITHOUT_ALLOW,
    Delivered,
    IntentOutcome,
    Reconciliation,
    classify,
    decode_entry,
    decode_outcome,
    encode_entry,
    encode_outcome,
    header,
    outcome_header,
    violation,
)
from streams.policy.errors import InvalidRecord
from streams.policy.pseudonym import Pseudonyms
from streams.policy.reasons import DENY_PRECEDENCE, SEVERITY
from streams.policy.records import DeliveryRecord, Verdict, Violation, parse_record
from streams.policy.replay import Replay, replay_records

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "delivery-scenarios"
AT = datetime(2026, 5, 20, 15, 0, 5, tzinfo=UTC)
KEYS = Pseudonyms([("new", b"n" * 16), ("old", b"o" * 16)])


def read(**fields: Any) -> DeliveryRecord:
    base = {"type": "delivery", "id": "d1", "intent_id": "m1", "at": "2026-05-20T15:00:05Z",
            "channel": "email", "address": "pat@example.com"}  # fmt: skip
    record = parse_record({**base, **fields}, received_at=datetime(2026, 5, 21, tzinfo=UTC))
    assert isinstance(record, DeliveryRecord)
    return record


def allow(**fields: Any) -> IntentOutcome:
    base = {"intent_id": "m1", "decision": "allow", "reason": "CONSENT_VALID",
            "channel": "email", "sender": "company", "intent_at_ms": 1,
            "recipient_ref": KEYS.refs("pat@example.com")[1]}  # fmt: skip
    return IntentOutcome(**{**base, **fields})


def delivered(**fields: Any) -> Delivered:
    return Delivered.of(read(**fields), KEYS, received_at=AT)


# ---------------------------------------------------------------- reading


def test_a_messy_report_is_repaired_and_says_so() -> None:
    record = read(type="Delivery", id=None, at="yesterday", channel=" E-mail", sender=7,
                  address="\ufeffPat@Example.com")  # fmt: skip
    assert (record.channel, record.address, record.sender) == ("email", "pat@example.com", None)
    assert record.at == datetime(2026, 5, 21, tzinfo=UTC) and record.id.startswith("delivery-")
    joined = "; ".join(record.repairs)
    for fragment in ("type", "channel", "at", "sender", "byte-order mark", "id unreadable"):
        assert fragment in joined
    assert read().repairs == ()


def test_a_phone_number_reads_with_its_jurisdiction() -> None:
    record = read(channel="sms", address="(415) 555-0124", jurisdiction="usa")
    assert record.address == "+14155550124" and record.jurisdiction == "US"


@pytest.mark.parametrize(
    "fields",
    [
        {"intent_id": None}, {"intent_id": ""}, {"intent_id": 7}, {"intent_id": "x" * 257},
        {"address": None}, {"address": "not an address"}, {"address": "a\u200b@example.com"},
        {"channel": "pigeon"}, {"channel": None}, {"channel": "sms", "address": "4155550124"},
        {"address": "x" * 100_000}, {"address": ["pat@example.com"]},
    ],
)  # fmt: skip
def test_a_report_whose_intent_or_recipient_does_not_read_is_refused(
    fields: dict[str, Any],
) -> None:
    with pytest.raises(InvalidRecord):
        read(**fields)


def test_the_intent_id_is_kept_exactly() -> None:
    assert read(intent_id=" m1 ").intent_id == " m1 "


# ---------------------------------------------------------------- classifying


def test_the_classification_table() -> None:
    assert classify(allow(), delivered()) == OK
    assert classify(allow(), delivered(address="PAT@example.com ")) == OK
    assert classify(allow(), delivered(address="sam@example.com")) == SENT_WITHOUT_ALLOW
    assert classify(allow(channel="sms"), delivered()) == SENT_WITHOUT_ALLOW
    assert classify(None, delivered()) == SENT_WITHOUT_ALLOW
    denied = allow(decision="deny", reason="OPTED_OUT")
    assert classify(denied, delivered()) == SENT_AFTER_DENY


def test_a_recipient_that_cannot_be_compared_is_not_the_intent_s() -> None:
    assert classify(allow(recipient_ref=None), delivered()) == SENT_WITHOUT_ALLOW
    gone = Delivered.of(read(), Pseudonyms([("new", b"n" * 16)]), received_at=AT)
    assert classify(allow(), gone) == SENT_WITHOUT_ALLOW  # signed with a key no longer in force
    by_address = Delivered.of(read(), None, received_at=AT, keep_address=True)
    assert classify(allow(address="pat@example.com"), by_address) == OK


def test_the_violation_names_both_recipients_under_one_key() -> None:
    d = delivered(address="sam@example.com", sender="acme")
    v = violation("m1", SENT_WITHOUT_ALLOW, allow(), d, "p1")
    assert (v.id, v.intent_id, v.rule, v.severity, v.reasons) == (
        "m1:SENT_WITHOUT_ALLOW", "m1", SENT_WITHOUT_ALLOW, "critical", (SENT_WITHOUT_ALLOW,),
    )  # fmt: skip
    assert v.sender == "company" and v.at == v.delivered_at == AT and v.policy_version == "p1"
    assert v.recipient_ref is not None and v.recipient_ref.startswith("old:")
    assert v.delivered_ref == KEYS.refs("sam@example.com")[1]
    unknown = violation("m1", SENT_WITHOUT_ALLOW, None, d)
    assert (unknown.sender, unknown.intent_at, unknown.recipient_ref) == ("acme", None, None)
    assert unknown.delivered_ref == KEYS.ref("sam@example.com")


def test_the_rules_are_not_intent_deny_codes() -> None:
    for rule in (SENT_WITHOUT_ALLOW, SENT_AFTER_DENY):
        assert rule not in DENY_PRECEDENCE and rule not in SEVERITY


# ---------------------------------------------------------------- the worker's entry


def test_an_entry_owes_each_rule_once_and_keeps_its_first_verdict() -> None:
    entry = Reconciliation("m1").with_delivery(delivered(address="sam@example.com"), 10)
    received = int(AT.timestamp() * 1000)
    assert entry.waiting and entry.owed(received + 999, 0, 1000) == []  # the wait is not over
    assert [r for r, _ in entry.owed(received + 1000, 0, 1000)] == [SENT_WITHOUT_ALLOW]
    entry = entry.with_verdict(allow(), 20)
    assert entry.with_verdict(allow(decision="deny"), 30) is entry
    assert [r for r, _ in entry.owed(0, 0, 1000)] == [SENT_WITHOUT_ALLOW]
    marked = entry.with_violation(SENT_WITHOUT_ALLOW)
    assert marked.owed(0, 0, 1000) == [] and not marked.waiting


def test_a_filing_without_verdict_stands_when_the_verdict_comes() -> None:
    entry = Reconciliation("m1").with_delivery(delivered(), 10)
    entry = entry.with_violation(SENT_WITHOUT_ALLOW)
    denied = entry.with_verdict(allow(decision="deny", reason="NO_CONSENT"), 20)
    assert denied.owed(0, 0, 1000) == []


def test_an_entry_holds_few_deliveries() -> None:
    entry = Reconciliation("m1")
    for n in range(5):
        entry = entry.with_delivery(delivered(address=f"p{n}@example.com"), n)
    entry = entry.with_delivery(delivered(address="p0@example.com", id="again"), 9)
    assert len(entry.deliveries) == MAX_DELIVERIES and entry.seen_ms == 9


def test_entries_round_trip_and_expire() -> None:
    entry = Reconciliation("m1", allow(), (delivered(),), (SENT_WITHOUT_ALLOW,), 42)
    partition, back = decode_entry(encode_entry(3, entry))
    assert partition == 3 and back == entry
    assert header(encode_entry(3, entry)) == (3, False, 42)
    assert entry.expires(42 + 100, 100) and not entry.expires(41 + 100, 100)
    waiting = Reconciliation("m2").with_delivery(delivered(), 1)
    assert not waiting.expires(10**12, 100)
    with pytest.raises(ValueError):
        decode_entry(b"\x01\x00\x00\x00" + b"\x00" * 8 + b"[1]")
    with pytest.raises(ValueError):
        header(b"\x09")


def test_the_outcome_header_round_trips() -> None:
    bare = allow(decision="deny", reason="NO_CONSENT", channel=None, sender=None,
                 intent_at_ms=None, recipient_ref=None)  # fmt: skip
    for outcome in (allow(), bare):
        assert decode_outcome(encode_outcome(outcome)) == outcome


@pytest.mark.parametrize(
    "echo",
    [
        {"channel": "sms", "sender": "acme", "intent_at": AT, "recipient_ref": "new:abc"},
        {"channel": None, "sender": None, "intent_at": None, "recipient_ref": None},
        {"channel": "email", "intent_at": datetime(2026, 5, 20, 15, 0, 5, 999999, tzinfo=UTC)},
    ],
)
@pytest.mark.parametrize("decision, reason", [("allow", "CONSENT_VALID"), ("deny", "NO_CONSENT")])
def test_the_gates_outcome_header_is_the_outcome_of_its_verdict(
    echo: dict[str, Any], decision: str, reason: str
) -> None:
    """The gate writes the header straight from the verdict (`outcome_header`); it must be the
    bytes of the outcome the reconciler would read from the verdict itself."""
    verdict = Verdict("m1", decision, reason, (reason,), "v1", ("X",), AT, **echo)
    assert outcome_header(verdict) == encode_outcome(IntentOutcome.of(verdict))
    assert decode_outcome(outcome_header(verdict)) == IntentOutcome.of(verdict)


@pytest.mark.parametrize(
    "data",
    [
        b"", b"not json", b"{}", b'["m1", "allow", "CONSENT_VALID"]',
        b'["m1", "maybe", "R", null, null, null, null]',  # an unknown decision
        b'["", "allow", "R", null, null, null, null]',  # no intent id
        b'["m1", "allow", "R", null, null, true, null]',  # a boolean is not a time
        b'["m1", "allow", "R", null, null, 1.5, null]',
        b'["m1", "allow", "R", 7, null, null, null]',
        b'["m1", "allow", "R", null, null, null, null, "extra"]',
        b'["' + b"m" * 5000 + b'", "allow", "R", null, null, null, null]',  # over the size
    ],
)  # fmt: skip
def test_an_outcome_header_that_does_not_read_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_outcome(data)


# ---------------------------------------------------------------- replay


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


FIELDS = ("intent_id", "rule", "sender", "channel", "delivered_at", "intent_at")


@pytest.mark.parametrize("events", sorted(SCENARIOS.glob("*.events.jsonl")), ids=lambda p: p.stem)
def test_replay_scenarios(events: Path) -> None:
    replay = Replay(PolicyConfig())
    verdicts: list[Verdict] = []
    violations: list[dict[str, Any]] = []
    for number, text in enumerate(events.read_text().splitlines(), start=1):
        for item in replay.feed_line(text, number):
            if isinstance(item, Verdict):
                verdicts.append(item)
            elif isinstance(item, Violation):
                shown = item.to_dict()
                assert shown["id"] == f"{item.intent_id}:{item.rule}"
                assert item.severity == "critical" and item.reasons == (item.rule,)
                violations.append({**{k: shown.get(k) for k in FIELDS}, "after_line": number})
    expected = lines_of(events.with_name(events.name.replace(".events.", ".expected.")))
    assert [(v.id, v.decision, v.reason) for v in verdicts] == [
        (e["id"], e["decision"], e["reason"]) for e in expected
    ]
    wanted = lines_of(events.with_name(events.name.replace(".events.", ".violations.")))
    assert violations == [{k: w[k] for k in (*FIELDS, "after_line")} for w in wanted]


def test_the_replay_command_prints_them_as_typed_lines_and_reports_bad_ones(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONSENTGATE_PSEUDONYM_KEYS", raising=False)
    events = SCENARIOS / "channels-repairs-errors.events.jsonl"
    assert main(["replay", str(events)]) == 0
    captured = capsys.readouterr()
    out = [json.loads(line) for line in captured.out.splitlines()]
    printed = [o for o in out if o.get("type") == "violation"]
    replayed = [i for i in replay_records(events.read_bytes().splitlines())
                if isinstance(i, Violation)]  # fmt: skip
    assert printed == [{"type": "violation", **v.to_dict()} for v in replayed]
    assert len(printed) == 3
    errors = captured.err.splitlines()
    assert [e.split(":")[0] for e in errors if "delivery" in e] == ["line 8", "line 9", "line 10"]
