"""Issue 15 §2, §3: recipient pseudonyms (determinism, rotation), and the audit and violations
commands' selection and formatting (the Kafka reads are in tests/integration/test_audit.py)."""

from __future__ import annotations

import base64
import csv
import io
import stat
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from streams.cli import build_parser
from streams.cli.audit import (
    AUDIT_COLUMNS,
    VIOLATION_COLUMNS,
    timeline,
    violation_filter,
    violation_row,
    write_rows,
)
from streams.policy.pseudonym import Pseudonyms, parse_keys, pseudonym
from streams.policy.records import parse_record
from streams.runtime.ledger import (
    KEY_FILE,
    PseudonymKeyError,
    ledger_entry,
    pseudonyms_for,
    recipient_ref,
)
from streams.settings import Settings
from tests.builders import EMAIL, PHONE, consent, intent

K1 = ("k1", b"\x01" * 32)
K2 = ("k2", b"\x02" * 32)
AT = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def keys_text(*keys: tuple[str, bytes]) -> str:
    return ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in keys)


# ---------------------------------------------------------------- pseudonyms


def test_a_pseudonym_is_keyed_deterministic_and_not_the_address() -> None:
    one = Pseudonyms([K1])
    ref = one.ref(PHONE)
    assert ref == Pseudonyms([K1]).ref(PHONE), "same key, same address: same pseudonym"
    assert ref.startswith("k1:") and PHONE not in ref and len(ref) == 3 + 26
    assert ref != one.ref(EMAIL)
    assert ref != Pseudonyms([("k1", b"\x03" * 32)]).ref(PHONE), "another key, another one"


def test_rotation_keeps_old_pseudonyms_matchable() -> None:
    before = Pseudonyms([K1]).ref(PHONE)
    rotated = Pseudonyms([K2, K1])
    assert rotated.ref(PHONE).startswith("k2:")
    assert rotated.refs(PHONE) == (rotated.ref(PHONE), before)


def test_keys_parse_from_the_setting_and_bad_ones_are_refused() -> None:
    assert parse_keys(keys_text(K2, K1)) == [K2, K1]
    urlsafe = base64.urlsafe_b64encode(b"\xfb" * 20).decode().rstrip("=")
    assert parse_keys(f"u:{urlsafe}") == [("u", b"\xfb" * 20)]
    for bad in ("nokey", "k:", "k:not base64!"):
        with pytest.raises(ValueError):
            parse_keys(bad)
    with pytest.raises(ValueError, match="under 16"):
        Pseudonyms([("short", b"x" * 8)])
    with pytest.raises(ValueError, match="differ"):
        Pseudonyms([K1, ("k1", b"\x09" * 32)])
    with pytest.raises(ValueError):
        Pseudonyms([])


def test_configured_keys_win_and_a_missing_key_is_made_once_private(tmp_path: Any) -> None:
    configured = Settings().replace(pseudonym_keys=keys_text(K1), data_dir=tmp_path)
    assert pseudonyms_for(configured) is not None
    assert not (tmp_path / KEY_FILE).exists(), "configured keys make no file"
    plain = Settings().replace(data_dir=tmp_path)
    assert pseudonyms_for(plain, create=False) is None, "a tool never invents a key"
    made = pseudonyms_for(plain)
    assert made is not None
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    again = pseudonyms_for(plain, create=False)
    assert again is not None and again.ref(PHONE) == made.ref(PHONE)
    with pytest.raises(PseudonymKeyError, match="CONSENTGATE_PSEUDONYM_KEYS"):
        pseudonyms_for(Settings().replace(pseudonym_keys="k1:short", data_dir=tmp_path))


def test_the_setting_is_a_masked_secret() -> None:
    from streams.settings import current_values

    shown = current_values(Settings().replace(pseudonym_keys=keys_text(K1)))
    assert shown["CONSENTGATE_PSEUDONYM_KEYS"] == "***"


def test_an_invalid_intent_is_named_only_when_its_address_reads() -> None:
    keys = Pseudonyms([K1])
    raw = {"channel": "sms", "address": "(415) 555-0101", "jurisdiction": "us"}
    assert recipient_ref(keys, raw) == pseudonym("k1", K1[1], PHONE)
    assert recipient_ref(keys, {"channel": "sms", "address": "not a number"}) is None
    assert recipient_ref(keys, {"address": PHONE}) is None
    assert recipient_ref(None, raw) is None


# ---------------------------------------------------------------- audit selection and formats


def entry(**changes: Any) -> dict[str, Any]:
    record = parse_record(consent(**changes))
    value = ledger_entry(
        record,  # type: ignore[arg-type]
        received_at=AT,
        source=("consent-events", 0, 1),
        pseudonyms=Pseudonyms([K1]),
    )
    return value


def verdict(intent_id: str, at: datetime, ref: str | None, **more: Any) -> dict[str, Any]:
    return {
        "id": intent_id, "decision": "allow", "reason": "CONSENT_VALID",
        "reasons": ["CONSENT_VALID"], "decided_at": at, "intent_at": at, "channel": "sms",
        "sender": "company", "category": "promotional", "recipient_ref": ref, **more,
    }  # fmt: skip


def test_the_timeline_is_one_recipient_in_time_order() -> None:
    mine = Pseudonyms([K1]).ref(PHONE)
    grant = entry(id="g1", at="2026-06-01T10:00:00Z", evidence={"source": "web", "ip": "192.0.2.7"})
    other = entry(id="g9", channel="email", at="2026-06-01T09:00:00Z")
    later = verdict("m2", AT + timedelta(hours=2), mine, grant_id="g1")
    earlier = verdict("m1", AT, mine, grant_id="g1")
    stranger = verdict("m3", AT, "k1:someoneelse")
    events = timeline([other, grant], [later, stranger, earlier], PHONE, set())
    assert [(e["event"], e["id"]) for e in events] == [
        ("consent", "g1"),
        ("verdict", "m1"),
        ("verdict", "m2"),
    ], "the address's own entries lend their pseudonym to find its verdicts"
    assert events[0]["evidence"] == {"source": "web", "ip": "192.0.2.7"}
    assert events[1]["grant_id"] == "g1"


def test_a_repeated_verdict_is_shown_once_with_what_it_relied_on() -> None:
    ref = Pseudonyms([K1]).ref(PHONE)
    bare, full = verdict("m1", AT, ref), verdict("m1", AT, ref, optout_id="o1")
    [shown] = timeline([], [bare, full], PHONE, {ref})
    assert shown["optout_id"] == "o1"


def test_csv_and_json_carry_the_same_rows() -> None:
    ref = Pseudonyms([K1]).ref(PHONE)
    later = AT + timedelta(hours=2)  # after the grant (17:00)
    events = timeline([entry(id="g1")], [verdict("m1", later, ref, grant_id="g1")], PHONE, {ref})
    as_json, as_csv = io.StringIO(), io.StringIO()
    assert write_rows(events, as_json, fmt="json", columns=AUDIT_COLUMNS) == 2
    write_rows(events, as_csv, fmt="csv", columns=AUDIT_COLUMNS)
    lines = [orjson.loads(line) for line in as_json.getvalue().splitlines()]
    rows = list(csv.DictReader(io.StringIO(as_csv.getvalue())))
    assert tuple(rows[0]) == AUDIT_COLUMNS
    assert [r["id"] for r in rows] == [line["id"] for line in lines] == ["g1", "m1"]
    assert orjson.loads(rows[0]["evidence"]) == lines[0]["evidence"] == {"source": "web_form"}
    assert rows[1]["reasons"] == '["CONSENT_VALID"]' and rows[1]["grant_id"] == "g1"
    text = io.StringIO()
    write_rows(events, text, fmt="text", columns=AUDIT_COLUMNS)
    assert "relied on grant g1" in text.getvalue() and "evidence source=web_form" in text.getvalue()


def violation(rule: str, sender: str, at: datetime) -> dict[str, Any]:
    return {"id": f"m:{rule}", "intent_id": "m", "sender": sender, "channel": "sms",
            "rule": rule, "severity": "critical", "at": at, "reasons": [rule],
            "campaign": None, "policy_version": "p", "recipient_ref": "k1:x"}  # fmt: skip


def test_violations_filter_by_sender_rule_and_half_open_time() -> None:
    rows = [
        violation("OPTED_OUT", "company", AT),
        violation("NO_CONSENT", "company", AT),
        violation("OPTED_OUT", "acme", AT),
        violation("OPTED_OUT", "company", AT + timedelta(days=1)),
    ]
    keep = violation_filter(sender="company", rule="OPTED_OUT", since=AT,
                            until=AT + timedelta(days=1))  # fmt: skip
    assert [r for r in rows if keep(r)] == [rows[0]]
    everything = violation_filter(sender=None, rule=None, since=None, until=None)
    assert all(everything(r) for r in rows)
    out = io.StringIO()
    write_rows((violation_row(r) for r in rows[:1]), out, fmt="csv", columns=VIOLATION_COLUMNS)
    [row] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert (row["rule"], row["at"], row["recipient_ref"]) == (
        "OPTED_OUT", "2026-06-01T16:00:00.000Z", "k1:x",
    )  # fmt: skip


def test_both_commands_are_registered_with_their_options() -> None:
    parser = build_parser()
    since = "2026-06-01T00:00:00Z"
    args = parser.parse_args(["audit", PHONE, "--csv"])
    assert (args.address, args.csv, args.json) == (PHONE, True, False)
    args = parser.parse_args(["violations", "--rule", "OPTED_OUT", "--since", since])
    assert (args.rule, args.since) == ("OPTED_OUT", since)
    with pytest.raises(SystemExit):
        parser.parse_args(["audit", PHONE, "--csv", "--json"])


def test_an_intent_builder_address_normalizes_as_the_audit_does() -> None:
    record = parse_record(intent())
    assert record.address == PHONE  # type: ignore[union-attr]
