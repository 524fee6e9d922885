"""`consentgate replay`: verdicts on stdout, numbered errors on stderr, the replay goes on."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from streams.cli import main
from tests.builders import consent, intent

LINES = [
    json.dumps(consent(id="c1")),
    "{this is not json",
    "",
    '{"type": "gossip", "id": "g1"}',
    json.dumps(intent(id="m1", at="2026-06-01T19:00:00Z")),
    '{"type": "intent", "id": "m2", "at": "2026-06-01T19:01:00Z", "channel": "pigeon"}',
    '{"type": "intent", "at": "2026-06-01T19:02:00Z"}',
]


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.events.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    return path


def test_replay_prints_verdicts_and_reports_bad_lines(
    scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(scenario)]) == 0
    out, err = capsys.readouterr()
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [(v["id"], v["decision"], v["reason"]) for v in verdicts] == [
        ("m1", "allow", "CONSENT_VALID"),
        ("m2", "deny", "INVALID_INTENT"),
    ]
    assert verdicts[0]["decided_at"] == "2026-06-01T19:00:00.000Z"
    assert set(verdicts[0]) >= {"id", "decision", "reason", "reasons", "policy_version"}
    messages = err.splitlines()
    assert [m.split(":")[0] for m in messages] == ["line 2", "line 4", "line 6", "line 7"]
    assert "unknown record type 'gossip'" in messages[1]
    assert "channel 'pigeon'" in messages[2]


def test_replay_is_deterministic(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["replay", str(scenario)])
    first = capsys.readouterr()
    main(["replay", str(scenario)])
    assert capsys.readouterr() == first


def test_replay_reads_stdin(
    scenario: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(scenario.read_bytes())))
    assert main(["replay", "-"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot open" in capsys.readouterr().err


def test_policy_settings_come_from_the_environment(
    scenario: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONSENTGATE_POLICY_VERSION", "test/9")
    main(["replay", str(scenario)])
    assert json.loads(capsys.readouterr().out.splitlines()[0])["policy_version"] == "test/9"
