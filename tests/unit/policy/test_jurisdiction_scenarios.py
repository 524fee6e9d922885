"""The contract's scenarios scored as the contract's conform.py scores them: the jurisdiction set
(part 2) through the pure core, and every set through the `consentgate replay` command (the tool
itself runs it in test_contract_drift.py, where the contract is at hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.policy.records import Verdict
from streams.policy.replay import LineError, replay_records
from tests.data import SCENARIO_SETS, expected_verdicts, misses, replay_cli, scenario_files

from .support import JURISDICTION_SCENARIOS

EVENT_FILES = scenario_files("jurisdiction-scenarios")
EVERY_EVENT_FILE = [events for name in SCENARIO_SETS for events in scenario_files(name)]


def test_jurisdiction_scenarios_are_there() -> None:
    assert len(EVENT_FILES) >= 3, f"no scenarios under {JURISDICTION_SCENARIOS}"


@pytest.mark.parametrize("events", EVENT_FILES, ids=lambda p: p.name.split(".")[0])
def test_jurisdiction_scenario(events: Path) -> None:
    expected = expected_verdicts(events)
    with events.open("rb") as lines:
        got = list(replay_records(lines))
    assert not [e for e in got if isinstance(e, LineError)], "every line of these files is valid"
    verdicts = [v for v in got if isinstance(v, Verdict)]
    assert [v.id for v in verdicts] == [e["id"] for e in expected], "one verdict per intent"
    assert misses([v.to_dict() for v in verdicts], expected) == []


def test_quiet_hours_denials_say_why() -> None:
    events = JURISDICTION_SCENARIOS / "06-quiet-hours.events.jsonl"
    with events.open("rb") as lines:
        by_id = {v.id: v for v in replay_records(lines) if isinstance(v, Verdict)}
    assert by_id["m1"].detail == (
        "QUIET_HOURS: Sun 21:30 America/Los_Angeles is outside US sms hours 08:00-21:00"
    )
    assert by_id["m4"].detail == (
        "QUIET_HOURS: Mon 20:30 America/New_York is outside US-FL sms hours 08:00-20:00"
    )
    assert by_id["m6"].detail is not None and "America/New_York" in by_id["m6"].detail
    assert by_id["m9"].detail == (
        "QUIET_HOURS: Sat 19:00 America/Toronto is outside CA voice hours 10:00-18:00"
    )
    assert by_id["m3"].detail is None


@pytest.mark.parametrize("events", EVERY_EVENT_FILE, ids=lambda p: p.name.split(".")[0])
def test_the_replay_command_meets_every_expectation(events: Path) -> None:
    expected = expected_verdicts(events)
    got = replay_cli(events)
    assert [v["id"] for v in got] == [e["id"] for e in expected], "one verdict per intent"
    assert misses(got, expected) == []


def test_the_scoring_rule_is_conform_pys() -> None:
    allow = {"id": "m1", "decision": "allow", "reason": "CONSENT_VALID"}
    deny = {"id": "m2", "decision": "deny", "reason": "NO_CONSENT"}
    right = [
        {**allow, "reasons": ["CONSENT_VALID"]},
        {**deny, "reason": "OPTED_OUT", "reasons": ["OPTED_OUT", "NO_CONSENT"]},
    ]
    assert misses(right, [allow, deny]) == []
    wrong_reason = [{**allow, "reason": "TRANSACTIONAL", "reasons": ["CONSENT_VALID"]}]
    assert [m.split(":")[0] for m in misses(wrong_reason, [allow, deny])] == ["m1", "m2"]
    flipped = [{**allow, "decision": "deny", "reasons": ["CONSENT_VALID"]}]
    assert len(misses(flipped, [allow])) == 1
