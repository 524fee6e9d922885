"""`consentgate replay`: verdicts on stdout, numbered errors on stderr, the replay goes on."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from streams.policy.records import Verdict
from streams.policy.replay import LineError, replay_records
from tests.builders import consent, intent, optout

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


# ---------------------------------------------------------------------------- reading lines


def _replay(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    assert main(["replay", str(path)]) == 0
    out, err = capsys.readouterr()
    return [json.loads(line) for line in out.splitlines()], err.splitlines()


def test_a_byte_order_mark_before_a_line_or_the_file_is_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bom.events.jsonl"
    bom = "\ufeff".encode()
    records = [consent(), intent(id="m1"), optout(), intent(id="m2")]
    lines = [json.dumps(record).encode() for record in records]
    lines = [bom + lines[0], lines[1], bom + lines[2], bom, lines[3]]
    path.write_bytes(b"\n".join(lines) + b"\n")
    printed, errors = _replay(path, capsys)
    verdicts = [v for v in printed if "type" not in v]  # the opt-out is dated before m1: late
    assert [(v["id"], v["reason"]) for v in verdicts] == [
        ("m1", "CONSENT_VALID"),
        ("m2", "OPTED_OUT"),
    ]
    assert [v["rule"] for v in printed if v.get("type") == "violation"] == ["LATE_OPTOUT"]
    assert errors == []


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('{"type": "optout", "type": "consent"}', "type"),
        ('{"type":"intent","id":"m9","id":"m1"}', "id"),
        ('{"evidence": {"source": "a", "ip": "b", "source": "c"}}', "source"),
        ('{"a": [1, {"b": 1, "b"\t :2}]}', "b"),
    ],
)
def test_a_key_twice_makes_the_line_unreadable_and_the_replay_goes_on(
    line: str, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dup.events.jsonl"
    path.write_text("\n".join([json.dumps(consent()), line, json.dumps(intent(id="m1"))]) + "\n")
    verdicts, errors = _replay(path, capsys)
    assert errors == [f"line 2: duplicate key {key!r}"]
    assert [(v["id"], v["reason"]) for v in verdicts] == [("m1", "CONSENT_VALID")]


def test_a_grant_with_its_evidence_source_twice_is_not_applied() -> None:
    grant = json.dumps(consent())
    doubled = grant.replace('"source": "web_form"', '"source": "web_form", "source": ""')
    assert doubled != grant
    results = list(replay_records([doubled, json.dumps(intent(id="m1"))]))
    assert [str(r) for r in results if isinstance(r, LineError)] == [
        "line 1: duplicate key 'source'"
    ]
    assert [r.reason for r in results if isinstance(r, Verdict)] == ["NO_CONSENT"]


@pytest.mark.parametrize(
    "body",
    [
        'Say \\"stop\\": we stop. Reply STOP to opt out.',
        'keys "a": 1, "a": 2. Reply STOP to opt out.',
    ],
)
def test_text_that_looks_like_a_key_is_not_a_duplicate(body: str) -> None:
    records = [json.dumps(consent()), json.dumps(intent(id="m1", body=body))]
    results = list(replay_records(records))
    assert [r.reason for r in results if isinstance(r, Verdict)] == ["CONSENT_VALID"]
    assert not [r for r in results if isinstance(r, LineError)]


# ---------------------------------------------------------------------------- the table in force

OMAN_NUMBER = "+96891234567"


@pytest.fixture
def with_germany(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An override adding DE, which the shipped table lacks, and a recipient there."""
    table = tmp_path / "table.toml"
    table.write_text('[DE]\nname = "Germany"\n')
    monkeypatch.setenv("CONSENTGATE_JURISDICTION_TABLE", str(table))
    path = tmp_path / "de.events.jsonl"
    german = {"address": "+4915112345678", "jurisdiction": "DE"}
    path.write_text(json.dumps(consent(**german)) + "\n" + json.dumps(intent(id="m1", **german)))
    return path


def test_a_country_only_the_override_table_has_is_decided(
    with_germany: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    verdicts, errors = _replay(with_germany, capsys)
    assert [(v["id"], v["reason"]) for v in verdicts] == [("m1", "CONSENT_VALID")]
    assert errors == []
    assert main(["explain", str(with_germany), "m1"]) == 0
    assert ": allow CONSENT_VALID" in capsys.readouterr().out
    monkeypatch.delenv("CONSENTGATE_JURISDICTION_TABLE")
    verdicts, errors = _replay(with_germany, capsys)
    assert [(v["id"], v["reason"]) for v in verdicts] == [("m1", "INVALID_INTENT")]
    assert errors == [
        "line 2: intent m1: jurisdiction DE is not in the jurisdiction table: an unlisted country "
        "never means 'no rules' (add it to the table, docs/jurisdictions.md)"
    ]


def test_the_in_process_replay_reads_the_table_its_config_names(with_germany: Path) -> None:
    from streams.settings import Settings

    config = Settings.from_env().policy
    assert config.jurisdiction_table is not None
    lines = with_germany.read_text().splitlines()
    assert [v.reason for v in replay_records(lines, config) if isinstance(v, Verdict)] == [
        "CONSENT_VALID"
    ]
    assert [v.reason for v in replay_records(lines) if isinstance(v, Verdict)] == ["INVALID_INTENT"]


def test_oman_has_an_entry_with_part_1_rules_only() -> None:
    oman = {"address": OMAN_NUMBER, "jurisdiction": "OM"}
    records = [consent(**oman), intent(id="m1", at="2026-06-01T23:30:00Z", **oman),
               intent(id="m2", address="+33612345678", jurisdiction="FR")]  # fmt: skip
    lines = [json.dumps(record) for record in records]
    results = list(replay_records(lines))
    assert [(v.id, v.reason) for v in results if isinstance(v, Verdict)] == [
        ("m1", "CONSENT_VALID"),  # 02:30 in Muscat: no quiet hours
        ("m2", "INVALID_INTENT"),
    ]
