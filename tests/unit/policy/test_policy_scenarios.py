"""The contract's public scenarios, scored as conform.py scores them, through the pure core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.policy.records import Verdict
from streams.policy.replay import LineError, replay_records

from .support import SCENARIOS

EVENT_FILES = sorted(SCENARIOS.glob("*.events.jsonl"))


def test_scenarios_are_there() -> None:
    assert len(EVENT_FILES) >= 5, f"no scenarios under {SCENARIOS}"


@pytest.mark.parametrize("events", EVENT_FILES, ids=lambda p: p.name.split(".")[0])
def test_scenario(events: Path) -> None:
    expected_path = events.with_name(events.name.replace(".events.", ".expected."))
    expected = [json.loads(line) for line in expected_path.read_text().splitlines() if line.strip()]
    with events.open("rb") as lines:
        got = [v for v in replay_records(lines) if isinstance(v, Verdict)]
    assert [v.id for v in got] == [e["id"] for e in expected], "one verdict per intent, in order"
    for verdict, want in zip(got, expected, strict=True):
        assert verdict.decision == want["decision"], (verdict, want)
        if want["decision"] == "allow":
            assert verdict.reason == want["reason"], (verdict, want)
        else:
            assert want["reason"] in verdict.reasons, (verdict, want)


def test_scenario_05_reports_unreadable_lines_with_numbers() -> None:
    events = SCENARIOS / "05-content-and-bad-input.events.jsonl"
    with events.open("rb") as lines:
        errors = [e for e in replay_records(lines) if isinstance(e, LineError)]
    assert [e.line for e in errors] == [3, 4, 5, 6]
    assert "evidence.source" in errors[-1].message
