"""Late opt-outs (issue 15 §5): an opt-out dated at or before a promotional intent that was
already allowed, covering its sender and channel, is one LATE_OPTOUT violation per intent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from streams.policy.config import PolicyConfig
from streams.policy.engine import decide
from streams.policy.late_optouts import (
    LATE_OPTOUT,
    LATE_OPTOUT_SEVERITY,
    RECALLED,
    Decided,
    decided,
    late_optouts,
)
from streams.policy.reasons import ALLOW_SET, DENY_RANK, SEVERITY
from streams.policy.records import (
    ComplaintRecord,
    ConsentRecord,
    OptOutRecord,
    SendIntent,
    parse_record,
)
from streams.policy.replay import Replay
from streams.policy.state import apply
from streams.policy.times import epoch_ms
from tests.builders import EMAIL, PHONE, consent, intent, optout

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "late-optout-scenarios"
CONFIG = PolicyConfig()
INTENT_AT = "2026-06-01T19:00:00Z"  # the builders' intent
GB = "+447911123456"


def one_optout(**fields: Any) -> OptOutRecord:
    record = parse_record(optout(**{"id": "o1", **fields}))
    assert isinstance(record, OptOutRecord)
    return record


def allowed(**fields: Any) -> Decided:
    """The history entry of an intent decided on a fresh grant (allowed unless `fields` say
    otherwise)."""
    record = parse_record(intent(**{"id": "m1", **fields}))
    assert isinstance(record, SendIntent)
    grant = parse_record(
        consent(channel=record.channel, address=record.address, party=record.sender,
                jurisdiction=record.jurisdiction)
    )  # fmt: skip
    assert isinstance(grant, ConsentRecord)
    state = apply(None, grant, CONFIG)
    verdict = decide(record, state, {}, CONFIG).verdict
    return decided(verdict, record)


def late(entries: list[Decided], record: OptOutRecord) -> list[str]:
    return [v.id for v in late_optouts(entries, record, CONFIG)]


def test_an_opt_out_before_an_allowed_promotional_intent_is_one_violation() -> None:
    entry = allowed()
    assert entry.decision == "allow"
    [violation] = late_optouts([entry], one_optout(at="2026-06-01T18:00:00Z"), CONFIG,
                               recipient_ref="k1:abc")  # fmt: skip
    assert violation.id == "m1:LATE_OPTOUT:o1" and violation.intent_id == "m1"
    assert (violation.rule, violation.reasons) == (LATE_OPTOUT, (LATE_OPTOUT,))
    assert violation.severity == LATE_OPTOUT_SEVERITY == "medium"
    assert (violation.sender, violation.channel, violation.recipient_ref) == (
        "company", "sms", "k1:abc",
    )  # fmt: skip
    assert violation.intent_at == violation.at == datetime(2026, 6, 1, 19, tzinfo=UTC)
    assert (violation.optout_id, violation.optout_at) == (
        "o1",
        datetime(2026, 6, 1, 18, tzinfo=UTC),
    )
    assert violation.policy_version == CONFIG.policy_version
    wire = violation.to_wire()
    assert wire["optout_id"] == "o1" and wire["intent_at"] == violation.intent_at


@pytest.mark.parametrize(
    ("at", "raised"),
    [
        ("2026-06-01T18:59:59.999Z", True),
        (INTENT_AT, True),  # as of the intent, an opt-out at its instant covers it
        ("2026-06-01T19:00:00.001Z", False),  # later than the intent: simply an opt-out
        ("2026-06-02T00:00:00Z", False),
    ],
)
def test_only_an_opt_out_dated_at_or_before_the_intent_is_late(at: str, raised: bool) -> None:
    assert late([allowed()], one_optout(at=at)) == (["m1:LATE_OPTOUT:o1"] if raised else [])


@pytest.mark.parametrize(
    ("party", "sender", "raised"),
    [
        (None, "company", True),  # from every party
        ("company", "company", True),
        ("Company", "company", True),  # party ids are compared canonical
        ("acme-partner", "company", False),
        ("company", "acme-partner", False),
        ("acme-partner", "acme-partner", True),
    ],
)
def test_the_opt_out_must_cover_the_sender(party: str | None, sender: str, raised: bool) -> None:
    entry = allowed()._replace(sender=sender)
    assert bool(late([entry], one_optout(at="2026-06-01T18:00:00Z", party=party))) is raised


@pytest.mark.parametrize(
    ("optout_channel", "intent_fields", "raised"),
    [
        ("sms", {}, True),
        ("voice", {}, True),  # US: one opt-out covers calls and texts (J3)
        ("mms", {}, True),
        ("voice", {"address": GB, "jurisdiction": "GB"}, False),  # elsewhere: its channel only
        ("sms", {"address": GB, "jurisdiction": "GB"}, True),
        ("email", {}, False),
    ],
)
def test_the_opt_out_must_cover_the_channel_as_the_engine_reads_it(
    optout_channel: str, intent_fields: dict[str, Any], raised: bool
) -> None:
    entry = allowed(**intent_fields)
    assert entry.decision == "allow"
    address = intent_fields.get("address", PHONE)
    if optout_channel == "email":
        address = EMAIL
    record = one_optout(
        at="2026-06-01T18:00:00Z", channel=optout_channel, address=address,
        jurisdiction=intent_fields.get("jurisdiction", "US"),
    )  # fmt: skip
    assert bool(late([entry], record)) is raised


@pytest.mark.parametrize(
    ("fields", "body"),
    [
        ({"category": "transactional", "has_opt_out": False}, "Your order 1234 has shipped."),
        ({"category": "legal", "has_opt_out": False}, "Our terms change on 1 July."),
    ],
)
def test_an_allow_that_rests_on_no_consent_is_not_affected(
    fields: dict[str, Any], body: str
) -> None:
    entry = allowed(body=body, **fields)
    assert entry.decision == "allow" and entry.category == fields["category"]
    assert late([entry], one_optout(at="2026-06-01T18:00:00Z")) == []


def test_an_opt_out_confirmation_and_a_deny_are_not_affected() -> None:
    entry = allowed()
    confirmation = entry._replace(category="optout_confirmation", intent_id="m2")
    denied = entry._replace(decision="deny", intent_id="m3")
    assert late([confirmation, denied], one_optout(at="2026-06-01T18:00:00Z")) == []


def test_one_violation_per_intent_even_when_the_history_repeats_it() -> None:
    entry = allowed()
    other = entry._replace(intent_id="m2")
    record = one_optout(at="2026-06-01T18:00:00Z")
    assert late([entry, other, entry], record) == ["m1:LATE_OPTOUT:o1", "m2:LATE_OPTOUT:o1"]
    assert late([entry], record) == late([entry], record)  # the same ids every time


def test_an_opt_out_whose_time_did_not_read_is_never_late() -> None:
    record = one_optout(at="not a time")
    assert record.at is None
    assert late([allowed()], record) == []


@pytest.mark.parametrize(
    "change",
    [
        {"intent_at_ms": None},
        {"intent_at_ms": "2026-06-01T19:00:00Z"},
        {"intent_at_ms": True},
        {"intent_at_ms": 10**20},
        {"sender": None},
        {"channel": None},
        {"category": None},
        {"decision": "ALLOW"},
        {"jurisdiction": None},  # no table entry: its own channel only, as the engine
        {"jurisdiction": "XX"},
        {"jurisdiction": ["US"]},
    ],
)
def test_hostile_entries_never_raise_and_never_widen(change: dict[str, Any]) -> None:
    entry = allowed()._replace(**change)
    voice = one_optout(at="2026-06-01T18:00:00Z", channel="voice")
    sms = one_optout(at="2026-06-01T18:00:00Z")
    assert late([entry], voice) == []  # without a readable US jurisdiction: sms only
    readable = "jurisdiction" in change
    assert bool(late([entry], sms)) is readable


def test_late_optout_is_a_violation_rule_not_an_intent_code() -> None:
    assert LATE_OPTOUT not in DENY_RANK and LATE_OPTOUT not in ALLOW_SET
    assert LATE_OPTOUT_SEVERITY in set(SEVERITY.values())


# ---------------------------------------------------------------- replay


def test_replay_remembers_as_many_verdicts_per_recipient_as_the_gate() -> None:
    replay = Replay(CONFIG)
    replay.feed(consent(), 1)
    for n in range(RECALLED + 2):
        replay.feed(intent(id=f"m{n}"), n + 2)
    results = replay.feed(optout(id="o1", at="2026-06-01T18:00:00Z"), 99)
    assert [v.intent_id for v in results] == [f"m{n}" for n in range(2, RECALLED + 2)]
    assert replay.feed(optout(id="o1", at="2026-06-01T18:00:00Z"), 100) == []  # repeated


def test_replay_applies_a_complaint_as_the_late_opt_out_it_is() -> None:
    replay = Replay(CONFIG)
    replay.feed(consent(), 1)
    [verdict] = replay.feed(intent(id="m1"), 2)
    assert verdict.allowed
    complaint = {
        "type": "complaint", "id": "k1", "at": "2026-06-01T18:00:00Z", "channel": "sms",
        "address": PHONE, "party": None, "jurisdiction": "US", "text": "stop",
    }  # fmt: skip
    assert isinstance(parse_record(complaint), ComplaintRecord)
    [violation] = replay.feed(complaint, 3)
    assert violation.id == "m1:LATE_OPTOUT:k1"  # type: ignore[union-attr]


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("events", sorted(SCENARIOS.glob("*.events.jsonl")), ids=lambda p: p.stem)
def test_replay_scenarios_through_the_command(
    events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`consentgate replay` prints the verdicts the expected file lists and, after the line that
    raised them, the LATE_OPTOUT violations as typed JSON lines."""
    assert main(["replay", str(events)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    verdicts = [o for o in out if "type" not in o]
    expected = lines_of(events.with_name(events.name.replace(".events.", ".expected.")))
    assert [(v["id"], v["decision"], v["reason"]) for v in verdicts] == [
        (e["id"], e["decision"], e["reason"]) for e in expected
    ]
    violations = [o for o in out if o.get("type") == "violation"]
    wanted = lines_of(events.with_name(events.name.replace(".events.", ".violations.")))
    assert [
        (v["intent_id"], v["rule"], v["optout_id"], v["optout_at"], v["intent_at"])
        for v in violations
    ] == [(w["intent_id"], w["rule"], w["optout_id"], w["optout_at"], w["intent_at"])
          for w in wanted]  # fmt: skip
    for v in violations:
        assert v["id"] == f"{v['intent_id']}:LATE_OPTOUT:{v['optout_id']}"
    # Each appears right after the line that raised it: count the verdicts printed before it.
    replay, after = Replay(CONFIG), []
    for number, text in enumerate(events.read_text().splitlines(), start=1):
        after += [number for item in replay.feed_line(text, number) if hasattr(item, "rule")]
    assert after == [w["after_line"] for w in wanted]


def test_the_history_keeps_what_the_check_reads() -> None:
    """`decided` keeps the intent's time in epoch ms, its sender, channel and jurisdiction."""
    entry = allowed()
    assert entry.intent_at_ms == epoch_ms(datetime(2026, 6, 1, 19, tzinfo=UTC))
    assert (entry.sender, entry.channel, entry.jurisdiction) == ("company", "sms", "US")
