"""`consentgate rules` and `consentgate explain`, and the explain() path behind the latter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from streams.policy.config import PolicyConfig
from streams.policy.explain import explain
from streams.policy.records import SendIntent, Verdict, parse_record
from streams.policy.replay import replay_records
from streams.policy.rules import PARAMETER_RULES, RULES, rules_for
from streams.policy.state import EMPTY_STATE
from tests.builders import consent, intent, optout

from .support import JURISDICTION_SCENARIOS, SCENARIOS

RULE_IDS = [rule.RULE_ID for rule in (*RULES, *PARAMETER_RULES)]


# ---------------------------------------------------------------------------- rules


def test_rules_prints_every_rule_and_every_jurisdictions_windows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for rule_id in RULE_IDS:
        assert rule_id in out
    for code in ("US", "US-FL", "US-WA", "US-OK", "US-MD", "US-MS", "US-TX", "CA", "IN", "GB",
                 "IE", "CH"):  # fmt: skip
        assert f"\n{code}  " in out, code
    assert "sms, mms, voice: every day 08:00-21:00" in out
    assert "sms, mms, voice: every day 08:00-20:00" in out
    assert "Mon-Sat 08:00-20:00; Sun closed" in out
    assert "Mon-Sat 09:00-21:00; Sun 12:00-21:00" in out
    assert "voice, fax: Mon-Fri 09:00-21:30; Sat-Sun 10:00-18:00" in out
    assert "sms, voice: every day 09:00-21:00" in out
    assert "implied_purchase: lapses 2 years after the grant; any party; every channel" in out
    assert "implied_inquiry: lapses 6 months after the grant" in out
    assert "soft_opt_in: lapses 12 months after the grant; the first party only" in out
    assert "within 5 minutes of the opt-out" in out
    assert "47 CFR 64.1200(c)(1)" in out and "CASL" in out and "PECR reg 22(3)" in out
    assert "confidence: secondary" in out
    assert "read from shipped jurisdictions.toml (sha256 " in out


def test_rules_for_a_country_includes_its_states_and_a_state_shows_its_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rules", "us"]) == 0
    out = capsys.readouterr().out
    assert "\nUS  United States" in out and "\nUS-TX  Texas" in out and "\nCA  " not in out
    assert main(["rules", "US-MS"]) == 0
    out = capsys.readouterr().out
    assert "\nUS-MS  Mississippi" in out and "Sunday    closed" in out
    assert "its windows replace US's" in out and "\nUS  " not in out


def test_rules_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "CA", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in data["rules"]] == RULE_IDS
    assert set(data["jurisdictions"]) == {"CA"}
    canada = data["jurisdictions"]["CA"]
    assert canada["quiet_hours"][0]["windows"]["saturday"] == ["10:00-18:00"]
    assert canada["quiet_hours"][0]["windows"]["monday"] == ["09:00-21:30"]
    assert {b["basis"]: b["lapse"] for b in canada["consent_bases"]} == {
        "implied_purchase": "P2Y", "implied_inquiry": "P6M"}  # fmt: skip
    assert data["table"]["origins"][0].startswith("shipped jurisdictions.toml")


@pytest.mark.parametrize("asked", ["XX", "DE", "US-ZZ", "usa"])
def test_an_unknown_jurisdiction_exits_2_saying_which_exist(
    asked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", asked]) == 2
    err = capsys.readouterr().err
    assert f"unknown jurisdiction {asked!r}" in err
    assert "US, US-FL" in err and "is INVALID_INTENT" in err and "part 1 rules only" in err


def test_rules_reads_the_override_named_in_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        '[US-CT]\nname = "Connecticut"\n[[US-CT.quiet_hours]]\nchannels = ["sms"]\n'
        'source = "Conn. Gen. Stat. 42-288a(c)"\n'
        'windows = [{days = "mon-sun", start = "09:00", end = "20:00"}]\n'
    )
    monkeypatch.setenv("CONSENTGATE_JURISDICTION_TABLE", str(path))
    assert main(["rules", "US-CT"]) == 0
    out = capsys.readouterr().out
    assert "Connecticut" in out and "sms: every day 09:00-20:00" in out and str(path) in out
    path2 = tmp_path / "broken.toml"
    path2.write_text("[US-CT]\nquiet_hours = 1\n")
    monkeypatch.setenv("CONSENTGATE_JURISDICTION_TABLE", str(path2))
    assert main(["rules"]) == 2
    assert "US-CT.quiet_hours: must be a list of tables" in capsys.readouterr().err


# ---------------------------------------------------------------------------- explain


def _explain(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    assert main(["explain", *args, "--json"]) == 0
    result: dict = json.loads(capsys.readouterr().out)  # type: ignore[type-arg]
    return result


def _finding(result: dict, rule: str) -> dict:  # type: ignore[type-arg]
    (found,) = [f for f in result["findings"] if f["rule"] == rule]
    return found  # type: ignore[no-any-return]


def test_explain_names_the_opt_out_it_relied_on(capsys: pytest.CaptureFixture[str]) -> None:
    result = _explain(capsys, str(SCENARIOS / "03-opt-out.events.jsonl"), "m3")
    assert (result["verdict"]["decision"], result["verdict"]["reason"]) == ("deny", "OPTED_OUT")
    opted = _finding(result, "OPTED_OUT")
    assert opted["outcome"] == "deny" and opted["relied_on"] == ["o1"]
    assert "opt-out o1" in opted["because"] and "policy 6" in opted["statement"]
    ids = [f["rule"] for f in result["findings"]]
    assert ids == [r.RULE_ID for r in rules_for("promotional")] + [
        "OPT_OUT_COVERS_CHANNELS_TOGETHER"
    ]


def test_explain_names_the_missing_agreement(capsys: pytest.CaptureFixture[str]) -> None:
    result = _explain(capsys, str(SCENARIOS / "04-third-parties.events.jsonl"), "m1")
    agreement = _finding(result, "THIRD_PARTY_NO_AGREEMENT")
    assert agreement["outcome"] == "deny"
    assert "acme-partner" in agreement["because"] and "no partner agreement" in agreement["because"]
    revoked = _finding(_explain(capsys, str(SCENARIOS / "04-third-parties.events.jsonl"), "m6"),
                       "THIRD_PARTY_NO_AGREEMENT")  # fmt: skip
    assert revoked["relied_on"] == ["p2"] and "revoked" in revoked["because"]


def test_explain_names_the_grant_and_confirm(capsys: pytest.CaptureFixture[str]) -> None:
    result = _explain(capsys, str(SCENARIOS / "02-email-double-opt-in.events.jsonl"), "m2")
    assert result["verdict"]["reason"] == "CONSENT_VALID"
    consent = _finding(result, "NO_CONSENT")
    assert consent["outcome"] == "allow" and consent["codes"] == ["CONSENT_VALID"]
    assert consent["relied_on"] and consent["relied_on"][0].startswith("c")
    confirmed = _finding(result, "CONSENT_UNCONFIRMED")
    assert "confirmed by confirm" in confirmed["because"]


def test_explain_quiet_hours_shows_window_and_local_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = _explain(capsys, str(JURISDICTION_SCENARIOS / "06-quiet-hours.events.jsonl"), "m4")
    quiet = _finding(result, "QUIET_HOURS")
    assert quiet["outcome"] == "deny"
    assert "US-FL (from the number's area code, 'Florida') has its own window" in quiet["because"]
    assert "Mon 20:30 America/New_York is OUTSIDE US-FL sms hours 08:00-20:00" in quiet["because"]
    assert "Fla. Stat. 501.616" in quiet["because"]
    assert "47 CFR 64.1200(c)(1)" in quiet["statement"]


def test_explain_basis_confirmation_window_and_coverage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bases = _explain(capsys, str(JURISDICTION_SCENARIOS / "07-consent-bases.events.jsonl"), "m1")
    expired = _finding(bases, "CONSENT_EXPIRED")
    assert expired["outcome"] == "deny" and expired["relied_on"] == ["c1"]
    assert "lapsed 2026-01-10" in expired["because"] and "CASL" in expired["because"]
    us = JURISDICTION_SCENARIOS / "08-us-opt-outs.events.jsonl"
    late = _explain(capsys, str(us), "m5")
    assert "o3" in _finding(late, "CONFIRMATION_NOT_ALLOWED")["relied_on"]
    assert "5 minutes" in _finding(late, "OPTOUT_CONFIRMATION_WINDOW")["because"]
    voice = _explain(capsys, str(us), "m2")
    assert _finding(voice, "OPTED_OUT")["relied_on"] == ["o1"]
    covered = _finding(voice, "OPT_OUT_COVERS_CHANNELS_TOGETHER")
    assert covered["kind"] == "parameter" and "opt-out o1 on sms" in covered["because"]


def test_explain_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(SCENARIOS / "03-opt-out.events.jsonl"), "m3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("intent m3 (") and ": deny OPTED_OUT" in out.splitlines()[0]
    assert "[DENY OPTED_OUT] OPTED_OUT" in out and "relied on: o1" in out
    assert "[PASS] QUIET_HOURS" in out and "[PARAMETER] OPT_OUT_COVERS_CHANNELS_TOGETHER" in out


def test_explain_an_invalid_intent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(SCENARIOS / "05-content-and-bad-input.events.jsonl"), "m3"]) == 0
    out = capsys.readouterr().out
    assert "deny INVALID_INTENT" in out and "pigeon" in out


def test_explain_unknown_id_or_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", str(SCENARIOS / "03-opt-out.events.jsonl"), "nope"]) == 2
    assert "no intent with id 'nope'" in capsys.readouterr().err
    assert main(["explain", str(SCENARIOS / "03-opt-out.events.jsonl"), "c1"]) == 2
    assert "no intent with id 'c1'" in capsys.readouterr().err
    assert main(["explain", str(tmp_path / "missing.jsonl"), "m1"]) == 2
    assert "cannot open" in capsys.readouterr().err


@pytest.mark.parametrize(
    "events",
    sorted([*SCENARIOS.glob("*.events.jsonl"), *JURISDICTION_SCENARIOS.glob("*.events.jsonl")]),
    ids=lambda p: p.name.split(".")[0],
)
def test_explain_agrees_with_replay_on_every_public_intent(
    events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with events.open("rb") as lines:
        replayed = {v.id: v for v in replay_records(lines) if isinstance(v, Verdict)}
    for intent_id, verdict in replayed.items():
        result = _explain(capsys, str(events), intent_id)
        assert result["verdict"]["decision"] == verdict.decision
        assert result["verdict"]["reasons"] == list(verdict.reasons)
        denied = {c for f in result["findings"] if f["outcome"] == "deny" for c in f["codes"]}
        if verdict.reason != "INVALID_INTENT":
            assert denied == {c for c in verdict.reasons if verdict.decision == "deny"}
            assert all(f["because"] for f in result["findings"])


def test_explain_without_provenance_still_explains() -> None:
    parsed = parse_record(intent(id="m"))
    assert isinstance(parsed, SendIntent)
    explanation = explain(parsed, EMPTY_STATE, {}, PolicyConfig())
    assert explanation.verdict.reason == "NO_CONSENT"
    assert [f.rule for f in explanation.findings][:2] == ["THIRD_PARTY_NO_AGREEMENT", "OPTED_OUT"]
    assert explanation.to_dict()["verdict"]["id"] == "m"


@pytest.mark.parametrize(
    "item",
    [(rule, case) for rule in (*RULES, *PARAMETER_RULES) for case in rule.CASES],
    ids=lambda item: f"{item[0].__name__.rsplit('.', 1)[-1]}: {item[1].name}",
)
def test_explain_agrees_with_decide_on_every_rule_case(item: tuple[object, object]) -> None:
    from streams.policy.replay import Replay

    _rule, case = item
    replay = Replay(PolicyConfig())
    for number, record in enumerate(case.records[:-1]):  # type: ignore[attr-defined]
        replay.feed(record, number)
    parsed = parse_record(case.intent)  # type: ignore[attr-defined]
    assert isinstance(parsed, SendIntent)
    result = explain(parsed, replay.states.get(parsed.address), replay.agreements, replay.config)
    assert all(finding.because for finding in result.findings)
    denied = {code for f in result.findings if f.outcome == "deny" for code in f.codes}
    expected = set(result.verdict.reasons) if result.verdict.decision == "deny" else set()
    assert denied == expected


# ---------------------------------------------------------------------------- one id twice


@pytest.fixture
def twice(tmp_path: Path) -> Path:
    """m1 on line 2, again unchanged on line 4 after an opt-out (a redelivery: still allowed), and
    changed on line 5 (denied); m2 invalid on line 6 and again valid on line 7."""
    records = [
        consent(), intent(id="m1"), optout(at="2026-06-01T19:30:00Z"), intent(id="m1"),
        intent(id="m1", at="2026-06-01T20:00:00Z"), intent(id="m2", channel="pigeon"),
        intent(id="m2"),
    ]  # fmt: skip
    path = tmp_path / "twice.events.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def _explain_all(
    capsys: pytest.CaptureFixture[str], path: Path, intent_id: str
) -> list[dict[str, Any]]:
    assert main(["explain", str(path), intent_id, "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_explain_explains_every_occurrence_of_an_id_as_replay_decides_it(
    twice: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with twice.open("rb") as lines:
        replayed = [v for v in replay_records(lines) if isinstance(v, Verdict)]
    first, again, changed = _explain_all(capsys, twice, "m1")
    assert [r["verdict"] for r in (first, again, changed)] == [v.to_dict() for v in replayed[:3]]
    assert [(r["line"], r["occurrence"], r["occurrences"]) for r in (first, again, changed)] == [
        (2, 1, 3), (4, 2, 3), (5, 3, 3)]  # fmt: skip
    assert first["verdict"]["reason"] == "CONSENT_VALID" and first["findings"]
    assert (again["verdict"]["reason"], again["redelivery"], again["repeat_of_line"]) == (
        "CONSENT_VALID", True, 2)  # fmt: skip
    assert again["findings"] == [] and "redelivery" in again["because"]
    assert (changed["verdict"]["reason"], changed["redelivery"]) == ("INVALID_INTENT", False)
    assert "different content" in changed["because"]
    invalid, valid = _explain_all(capsys, twice, "m2")
    assert [r["verdict"] for r in (invalid, valid)] == [v.to_dict() for v in replayed[3:]]
    assert "pigeon" in invalid["because"] and invalid["verdict"]["reason"] == "INVALID_INTENT"
    assert valid["verdict"]["reason"] == "INVALID_INTENT" and valid["redelivery"] is False


def test_explain_labels_each_occurrence_in_text(
    twice: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", str(twice), "m1"]) == 0
    out = capsys.readouterr().out
    labels = [line for line in out.splitlines() if line.startswith("occurrence ")]
    assert labels == ["occurrence 1 of 3 (line 2)", "occurrence 2 of 3 (line 4)",
                      "occurrence 3 of 3 (line 5)"]  # fmt: skip
    second, third = out.split("occurrence 2 of 3")[1].split("occurrence 3 of 3")
    assert ": allow CONSENT_VALID" in second and "same content as occurrence 1 (line 2)" in second
    assert ": deny INVALID_INTENT" in third and "different content" in third
    assert main(["explain", str(SCENARIOS / "03-opt-out.events.jsonl"), "m3"]) == 0
    assert "occurrence" not in capsys.readouterr().out


def test_explain_skips_a_line_replay_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dup.events.jsonl"
    doubled = json.dumps(intent(id="m1")).replace('"type": "intent"', '"type": "intent", "id": "x"')
    path.write_text(
        "\n".join(["\ufeff" + json.dumps(consent()), doubled, json.dumps(intent(id="m1"))])
    )
    (only,) = _explain_all(capsys, path, "m1")
    assert (only["line"], only["occurrences"], only["verdict"]["reason"]) == (3, 1, "CONSENT_VALID")
