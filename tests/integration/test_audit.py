"""Issue 15 §1-§3 on the real broker: records and intents through a real worker, then
`consentgate audit` shows every record about the recipient with its evidence and every verdict
with what it relied on, in time order; `consentgate violations` filters and exports."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

import orjson
import pytest

from streams import topics
from streams.cli import main
from streams.settings import environment_of
from tests.builders import consent, intent, optout
from tests.gatekit import RunningGate, gate_settings

KEYS = "it1:" + base64.b64encode(b"integration-test-pseudonym-key!!").decode()
PHONE = "+14155550177"
OTHER = "+14155550178"


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: Any, settings: Any, *argv: str) -> str:
    for name, value in environment_of(settings).items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(list(argv)) == 0
    out: str = capsys.readouterr().out
    return out


def test_audit_and_violations_through_a_real_worker(
    kafka_stack, unique_name, tmp_path, monkeypatch, capsys
):
    settings = gate_settings(kafka_stack, unique_name("audit"), tmp_path, pseudonym_keys=KEYS)
    gate = RunningGate.start(settings, tmp_path)
    try:
        evidence = {"source": "web_form", "ip": "192.0.2.7", "form": "signup-v3"}
        publish = gate.producer.publish
        publish(consent(id="g1", address=PHONE, at="2026-06-01T17:00:00Z", evidence=evidence))
        publish(intent(id="m1", address=PHONE, at="2026-06-01T19:00:00Z"))
        verdicts = gate.reader(topics.VERDICTS)
        # decided before the opt-out exists (held, an opt-out counts whatever its date)
        verdicts.wait_for_ids(["m1"])
        publish(optout(id="o1", address=PHONE, at="2026-06-01T19:30:00Z"))
        publish(intent(id="m2", address=PHONE, at="2026-06-01T20:00:00Z"))
        publish(intent(id="m3", address=OTHER, at="2026-06-01T20:00:00Z"))
        verdicts.wait_for_ids(["m1", "m2", "m3"])
        ledger = gate.reader(topics.LEDGER)
        ledger.wait_for_ids(["consent:g1", "optout:o1"])
        verdicts.close()
        ledger.close()

        lines = run_cli(monkeypatch, capsys, settings, "audit", "(415) 555-0177",
                        "--jurisdiction", "US", "--json")  # fmt: skip
        events = [orjson.loads(line) for line in lines.splitlines()]
        assert [(e["event"], e["id"]) for e in events] == [
            ("consent", "g1"),
            ("verdict", "m1"),
            ("optout", "o1"),
            ("verdict", "m2"),
        ], "one recipient's records and verdicts, in time order; m3 is someone else"
        assert events[0]["evidence"] == evidence
        assert (events[1]["decision"], events[1]["grant_id"]) == ("allow", "g1"), str(events[1])
        assert (events[3]["reason"], events[3]["optout_id"]) == ("OPTED_OUT", "o1")
        assert events[3]["reasons"] == ["OPTED_OUT"]
        assert events[1]["recipient_ref"].startswith("it1:")

        text = run_cli(monkeypatch, capsys, settings, "audit", PHONE)
        assert "relied on grant g1" in text and "evidence source=web_form" in text

        exported = run_cli(monkeypatch, capsys, settings, "violations", "--rule", "OPTED_OUT",
                           "--csv")  # fmt: skip
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert [(r["intent_id"], r["rule"]) for r in rows] == [("m2", "OPTED_OUT")]
        assert rows[0]["recipient_ref"] == events[3]["recipient_ref"]
        everything = run_cli(monkeypatch, capsys, settings, "violations", "--json")
        assert {orjson.loads(x)["intent_id"] for x in everything.splitlines()} == {"m2", "m3"}
        none = run_cli(monkeypatch, capsys, settings, "violations", "--since",
                       "2027-01-01T00:00:00Z")  # fmt: skip
        assert none == ""
    finally:
        gate.stop()
