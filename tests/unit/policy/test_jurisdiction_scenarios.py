"""The contract's jurisdiction scenarios (part 2), scored as conform.py scores them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.policy.records import Verdict
from streams.policy.replay import LineError, replay_records

from .support import JURISDICTION_SCENARIOS, SCENARIOS

EVENT_FILES = sorted(JURISDICTION_SCENARIOS.glob("*.events.jsonl"))


def test_jurisdiction_scenarios_are_there() -> None:
    assert len(EVENT_FILES) >= 3, f"no scenarios under {JURISDICTION_SCENARIOS}"


@pytest.mark.parametrize("events", EVENT_FILES, ids=lambda p: p.name.split(".")[0])
def test_jurisdiction_scenario(events: Path) -> None:
    expected_path = events.with_name(events.name.replace(".events.", ".expected."))
    expected = [json.loads(line) for line in expected_path.read_text().splitlines() if line.strip()]
    with events.open("rb") as lines:
        got = list(replay_records(lines))
    assert not [e for e in got if isinstance(e, LineError)], "every line of these files is valid"
    verdicts = [v for v in got if isinstance(v, Verdict)]
    assert [v.id for v in verdicts] == [e["id"] for e in expected], "one verdict per intent"
    for verdict, want in zip(verdicts, expected, strict=True):
        assert verdict.decision == want["decision"], (verdict, want)
        if want["decision"] == "allow":
            assert verdict.reason == want["reason"], (verdict, want)
        else:
            assert want["reason"] in verdict.reasons, (verdict, want)


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


@pytest.mark.parametrize("folder", [SCENARIOS, JURISDICTION_SCENARIOS], ids=["part1", "part2"])
def test_conformance_tool_scores_every_scenario(folder: Path) -> None:
    tool = SCENARIOS.parent.parent / "tools" / "conform.py"
    command = [sys.executable, "-m", "streams", "replay"]
    result = subprocess.run(
        [sys.executable, str(tool), str(folder), "--", *command],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    last = result.stdout.splitlines()[-1]
    passed, total = last.removeprefix("conformance: ").split("/")
    assert passed == total and int(total) > 0, last
