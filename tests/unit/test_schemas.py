"""The Avro schemas in `schemas/` against the contract (shared/contract/README.md is the spec).

The contract's field lists are written out here on purpose: a schema that drops or renames a
contract field must fail this file, whatever the code says.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from streams import topics
from streams.serdes import SCHEMA_NAMES, load_history, load_schemas, schema_dir

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def fa_read(data: bytes, writer: Any, reader: Any = None) -> dict[str, Any]:
    """fastavro alone, without our checks."""
    value: Any = schemaless_reader(io.BytesIO(data), writer, reader)
    return value


# The contract's records and fields (README.md "Records", jurisdictions.md "New fields").
CONTRACT_FIELDS: dict[str, set[str]] = {
    "consent": {
        "id", "at", "channel", "address", "party", "purpose", "action", "evidence",
        "jurisdiction", "basis",
    },
    "optout": {"id", "at", "channel", "address", "party", "method", "jurisdiction"},
    "partner": {"id", "at", "party", "agreement", "expires"},
    "intent": {
        "id", "at", "channel", "address", "sender", "category", "has_opt_out", "body",
        "jurisdiction", "timezone", "campaign", "region",
    },
    "verdict": {"id", "decision", "reason", "reasons", "policy_version", "decided_at"},
    "violation": {"id", "intent_id", "sender", "channel", "rule", "severity", "at"},
    # "the original bytes or line, the source topic/partition/offset or line number, and the error"
    # issue 15 §1: the proof-of-consent ledger (not the contract's; the fields audits rely on)
    "ledger_entry": {
        "id", "kind", "record_id", "at", "received_at", "address", "party", "evidence",
        "source_topic", "source_partition", "source_offset",
    },
    "dead_letter": {
        "id", "at", "value", "source_topic", "source_partition", "source_offset", "source_line",
        "error",
    },
    # issue 15 §4: complaints and their acknowledgements (schemas/README.md, "Complaints")
    "complaint": {"id", "at", "channel", "address", "party", "jurisdiction", "text"},
    "complaint_ack": {"id", "complaint_id", "at"},
    # issue 15 §5: delivery reports (schemas/README.md, "Deliveries")
    "delivery": {"id", "intent_id", "at", "channel", "address", "sender", "jurisdiction"},
    # issue 15 §6: erasure requests (schemas/README.md, "Erasure")
    "erasure": {"id", "at", "address", "channel", "jurisdiction", "requested_by", "reason"},
}  # fmt: skip
# Fields the contract calls optional (or nullable): they must default to null.
CONTRACT_OPTIONAL: dict[str, set[str]] = {
    "optout": {"party"},
    "partner": {"expires"},
    "intent": {"body", "timezone", "campaign", "region"},
}
TIMESTAMPS: dict[str, set[str]] = {
    "consent": {"at"},
    "optout": {"at"},
    "partner": {"at", "expires"},
    "intent": {"at"},
    "verdict": {"decided_at", "intent_at"},
    "violation": {"at", "deadline", "intent_at", "optout_at", "delivered_at"},
    "dead_letter": {"at"},
    "complaint": {"at"},
    "complaint_ack": {"at"},
    "delivery": {"at"},
    "erasure": {"at"},
    "ledger_entry": {"at", "received_at", "expires"},
}
PII: dict[str, set[str]] = {
    "consent": {"address", "evidence"},
    "optout": {"address"},
    "partner": set(),
    "intent": {"address", "body", "subject"},
    "verdict": {"detail"},
    "violation": set(),
    "dead_letter": {"key", "value", "error"},
    "complaint": {"address", "text"},
    "complaint_ack": set(),
    "delivery": {"address"},
    "ledger_entry": {"address", "evidence", "repairs"},
    "erasure": {"address"},
}
# Enum-like fields travel as strings (a new channel must not break old readers).
STRING_CHOICES: dict[str, set[str]] = {
    "consent": {"channel", "purpose", "action", "basis"},
    "optout": {"channel", "method"},
    "partner": {"agreement"},
    "intent": {"channel", "category"},
    "verdict": {"decision", "reason", "channel", "category"},
    "violation": {"rule", "severity", "channel"},
    "dead_letter": {"error_class"},
    "complaint": {"channel"},
    "complaint_ack": set(),
    "delivery": {"channel"},
    "erasure": {"channel"},
    "ledger_entry": {"kind", "channel", "action", "purpose", "basis", "method"},
}
POLICY_RECORDS = {
    "consent": "ConsentRecord",
    "optout": "OptOutRecord",
    "partner": "PartnerRecord",
    "intent": "SendIntent",
    "erasure": "ErasureRecord",
    "delivery": "DeliveryRecord",
}
POLICY_OUTPUTS = {"verdict": "Verdict", "violation": "Violation"}


def raw(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((SCHEMAS / f"{name}.avsc").read_text(encoding="utf-8"))
    return result


def fields_of(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in schema["fields"]}


def branches(avro_type: Any) -> list[Any]:
    return avro_type if isinstance(avro_type, list) else [avro_type]


def non_null(avro_type: Any) -> Any:
    rest = [t for t in branches(avro_type) if t != "null"]
    assert len(rest) == 1, f"unions are [null, X] only, got {avro_type}"
    return rest[0]


def walk_types(avro_type: Any) -> Iterator[Any]:
    yield avro_type
    if isinstance(avro_type, list):
        for t in avro_type:
            yield from walk_types(t)
    elif isinstance(avro_type, dict):
        for key in ("items", "values"):
            if key in avro_type:
                yield from walk_types(avro_type[key])
        for f in avro_type.get("fields", ()):
            yield from walk_types(f["type"])
        if isinstance(avro_type.get("type"), dict | list):
            yield from walk_types(avro_type["type"])


ALL_FILES = sorted(SCHEMAS.glob("*.avsc")) + sorted((SCHEMAS / "history").glob("*.avsc"))


def test_one_file_per_topic_schema_and_nothing_else() -> None:
    assert {spec.schema for spec in topics.ALL} == set(SCHEMA_NAMES)
    assert {p.stem for p in SCHEMAS.glob("*.avsc")} == set(SCHEMA_NAMES)
    assert schema_dir() == SCHEMAS
    assert set(load_schemas()) == set(SCHEMA_NAMES)
    assert set(load_history()) == {
        "consent.v1", "intent.v1", "intent.v2", "verdict.v1", "violation.v1", "violation.v2",
    }  # fmt: skip


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_file_parses_and_is_a_documented_record(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    parse_schema(schema)
    assert schema["type"] == "record"
    assert schema["namespace"] == "io.consentgate"
    assert schema.get("doc", "").strip(), f"{path.name}: record without doc"
    for f in schema["fields"]:
        assert f.get("doc", "").strip(), f"{path.name}: field {f['name']} without doc"


def test_record_names_are_distinct() -> None:
    names = [raw(n)["name"] for n in SCHEMA_NAMES]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_contract_fields_present_with_exact_names(name: str) -> None:
    present = set(fields_of(raw(name)))
    missing = CONTRACT_FIELDS[name] - present
    assert not missing, f"{name}: contract fields missing from the schema: {sorted(missing)}"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_id_is_a_required_string(name: str) -> None:
    f = fields_of(raw(name))["id"]
    assert f["type"] == "string"
    assert "default" not in f


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_timestamps_are_timestamp_millis(name: str) -> None:
    fields = fields_of(raw(name))
    found = {
        n
        for n, f in fields.items()
        if any(isinstance(t, dict) and t.get("logicalType") for t in branches(f["type"]))
    }
    assert found == TIMESTAMPS[name]
    for n in TIMESTAMPS[name]:
        assert non_null(fields[n]["type"]) == {"type": "long", "logicalType": "timestamp-millis"}


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_optional_fields_are_null_first_with_null_default(name: str) -> None:
    for f in raw(name)["fields"]:
        if isinstance(f["type"], list):
            assert f["type"][0] == "null", f"{name}.{f['name']}: null must come first"
            assert "default" in f and f["default"] is None, f"{name}.{f['name']}: default null"
    for n in CONTRACT_OPTIONAL.get(name, set()):
        f = fields_of(raw(name))[n]
        assert isinstance(f["type"], list) and "null" in f["type"]
        assert f["default"] is None


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_no_avro_enums_choices_are_strings(name: str) -> None:
    schema = raw(name)
    assert not [t for t in walk_types(schema) if isinstance(t, dict) and t.get("type") == "enum"]
    fields = fields_of(schema)
    for n in STRING_CHOICES[name]:
        assert non_null(fields[n]["type"]) == "string", f"{name}.{n} must be a string"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_pii_fields_are_marked_and_only_those(name: str) -> None:
    marked = {f["name"] for f in raw(name)["fields"] if f.get("pii") is True}
    assert marked == PII[name]
    assert load_schemas()[name].pii_fields == frozenset(PII[name])


def test_field_types_the_contract_fixes() -> None:
    consent = fields_of(raw("consent"))
    assert non_null(consent["evidence"]["type"]) == {"type": "map", "values": "string"}
    assert consent["basis"]["type"] == "string"
    assert consent["basis"]["default"] == "express"
    intent = fields_of(raw("intent"))
    assert non_null(intent["has_opt_out"]["type"]) == "boolean"
    assert intent["region"]["type"] == ["null", "string"]
    verdict = fields_of(raw("verdict"))
    assert verdict["reasons"]["type"] == {"type": "array", "items": "string"}
    assert verdict["rules_evaluated"]["default"] == []
    letter = fields_of(raw("dead_letter"))
    assert letter["value"]["type"] == ["null", "bytes"]
    assert letter["key"]["type"] == ["null", "bytes"]
    assert letter["source_offset"]["type"] == ["null", "long"]
    assert letter["error_class"]["type"] == "string"


def test_schemas_are_not_recursive() -> None:
    # fastavro recurses in C: a deeply nested value of a recursive schema kills the process.
    for name in SCHEMA_NAMES:
        schema = raw(name)
        inner_names = [
            t.get("name") for t in walk_types(schema) if isinstance(t, dict) and t.get("name")
        ]
        assert inner_names == [schema["name"]], f"{name}: only flat records, no nested named types"


# ---------------------------------------------------------------- evolution v1 -> v2


def _write(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, parse_schema(schema), record)
    return out.getvalue()


def _history(name: str, version: int = 1) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        (SCHEMAS / "history" / f"{name}.v{version}.avsc").read_text(encoding="utf-8")
    )
    return result


def _previous(name: str, version: int) -> dict[str, Any]:
    """Version `version` of `name`: the current file when no later one is in history/."""
    path = SCHEMAS / "history" / f"{name}.v{version}.avsc"
    return _history(name, version) if path.exists() else raw(name)


@pytest.mark.parametrize(
    ("name", "version", "added"),
    [("consent", 1, "basis"), ("intent", 1, "region"), ("intent", 2, "subject")],
)
def test_each_version_is_the_previous_plus_one_field_with_a_default(
    name: str, version: int, added: str
) -> None:
    v1, v2 = _history(name, version), _previous(name, version + 1)
    assert (v1["name"], v1["namespace"]) == (v2["name"], v2["namespace"])
    assert [f for f in v2["fields"] if f["name"] != added] == v1["fields"]
    assert v2["fields"][-1]["name"] == added
    assert "default" in v2["fields"][-1]


# Verdict v2 and violation v2 (issue 15): the records relied on and the recipient's pseudonym.
VERDICT_V2_FIELDS = ["grant_id", "confirm_id", "agreement_id", "optout_id", "recipient_ref"]
# issue 15 §4: a COMPLAINT_ACK_OVERDUE violation names its complaint and deadline.
VIOLATION_COMPLAINT_FIELDS = ["complaint_id", "deadline"]


@pytest.mark.parametrize(
    ("name", "added"),
    [("verdict", VERDICT_V2_FIELDS), ("violation", ["recipient_ref", *VIOLATION_COMPLAINT_FIELDS])],
)
def test_v2_outputs_are_v1_plus_nullable_fields_at_the_end(name: str, added: list[str]) -> None:
    v1, v2 = _history(name), _previous(name, 2)
    assert (v1["name"], v1["namespace"]) == (v2["name"], v2["namespace"])
    assert v2["fields"][: len(v1["fields"])] == v1["fields"]
    extra = v2["fields"][len(v1["fields"]) :]
    assert [f["name"] for f in extra] == added
    timestamp = {"type": "long", "logicalType": "timestamp-millis"}
    assert all(
        f["type"] in (["null", "string"], ["null", timestamp]) and f["default"] is None
        for f in extra
    )


# Violation v3 (issue 15 §5): deliveries and late opt-outs name both records.
VIOLATION_V3_FIELDS = ["intent_at", "optout_id", "optout_at", "delivered_at", "delivered_ref"]


def test_violation_v3_is_v2_plus_nullable_fields_at_the_end() -> None:
    v2, v3 = _history("violation", 2), raw("violation")
    assert v3["fields"][: len(v2["fields"])] == v2["fields"]
    extra = v3["fields"][len(v2["fields"]) :]
    assert [f["name"] for f in extra] == VIOLATION_V3_FIELDS
    timestamp = {"type": "long", "logicalType": "timestamp-millis"}
    assert all(
        f["type"] in (["null", "string"], ["null", timestamp]) and f["default"] is None
        for f in extra
    )


def test_verdict_v1_bytes_read_with_v2_rely_on_nothing() -> None:
    record = {
        "id": "m1", "decision": "deny", "reason": "OPTED_OUT", "reasons": ["OPTED_OUT"],
        "policy_version": "p", "decided_at": AT, "channel": "sms", "sender": "company",
        "category": "promotional", "rules_evaluated": ["OPTED_OUT"], "intent_at": AT,
        "detail": None,
    }  # fmt: skip
    data = _write(_history("verdict"), record)
    got = fa_read(data, parse_schema(_history("verdict")), parse_schema(raw("verdict")))
    assert got == {**record, **dict.fromkeys(VERDICT_V2_FIELDS)}


def test_verdict_v2_bytes_read_by_a_v1_consumer_keep_the_decision() -> None:
    record = {"id": "m1", "decision": "allow", "reason": "CONSENT_VALID",
              "reasons": ["CONSENT_VALID"], "policy_version": "p", "decided_at": AT,
              "grant_id": "c1", "recipient_ref": "k1:abc"}  # fmt: skip
    data = _write(raw("verdict"), record)
    got = fa_read(data, parse_schema(raw("verdict")), parse_schema(_history("verdict")))
    assert (got["decision"], got["reason"]) == ("allow", "CONSENT_VALID")
    assert "grant_id" not in got


def test_violation_v1_bytes_read_with_v2_have_no_recipient_ref() -> None:
    record = {"id": "m1:OPTED_OUT", "intent_id": "m1", "sender": "company", "channel": "sms",
              "rule": "OPTED_OUT", "severity": "critical", "at": AT, "reasons": ["OPTED_OUT"],
              "campaign": None, "policy_version": "p"}  # fmt: skip
    data = _write(_history("violation"), record)
    got = fa_read(data, parse_schema(_history("violation")), parse_schema(raw("violation")))
    assert got == {
        **record, "recipient_ref": None,
        **dict.fromkeys(VIOLATION_COMPLAINT_FIELDS), **dict.fromkeys(VIOLATION_V3_FIELDS),
    }  # fmt: skip


def test_intent_v2_bytes_read_with_v3_get_no_subject() -> None:
    record = {"id": "m1", "at": AT, "channel": "email", "region": "US-FL"}
    data = _write(_history("intent", 2), record)
    got = fa_read(data, parse_schema(_history("intent", 2)), parse_schema(raw("intent")))
    assert got["subject"] is None and got["region"] == "US-FL"


AT = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def test_consent_v1_bytes_read_with_v2_get_basis_express() -> None:
    record = {
        "id": "c1",
        "at": AT,
        "channel": "email",
        "address": "alice@example.com",
        "party": "company",
        "purpose": "marketing",
        "action": "grant",
        "evidence": {"source": "signup-form"},
        "jurisdiction": "US",
    }
    data = _write(_history("consent"), record)
    got = fa_read(data, parse_schema(_history("consent")), parse_schema(raw("consent")))
    assert got == {**record, "basis": "express"}


def test_intent_v1_bytes_read_with_v2_get_no_region() -> None:
    record = {
        "id": "m1",
        "at": AT,
        "channel": "sms",
        "address": "+14155550124",
        "sender": "company",
        "category": "promotional",
        "has_opt_out": True,
        "body": "Reply STOP to opt out.",
        "jurisdiction": "US",
        "timezone": None,
        "campaign": None,
    }
    data = _write(_history("intent"), record)
    got = fa_read(data, parse_schema(_history("intent")), parse_schema(raw("intent")))
    assert got == {**record, "region": None, "subject": None}


def test_v2_bytes_read_with_v1_drop_the_new_field() -> None:
    # FORWARD too, as it happens: an old consumer reads new intents.
    record = {"id": "m1", "at": AT, "region": "US-FL"}
    data = _write(raw("intent"), record)
    got = fa_read(data, parse_schema(raw("intent")), parse_schema(_history("intent")))
    assert "region" not in got and got["id"] == "m1"


# ---------------------------------------------------------------- parity with the code's records


def _policy_records() -> Any:
    try:
        return importlib.import_module("streams.policy.records")
    except ModuleNotFoundError:
        pytest.skip("streams.policy.records does not exist yet")


@pytest.mark.parametrize(("name", "cls"), sorted(POLICY_RECORDS.items()))
def test_every_policy_record_field_is_in_the_schema(name: str, cls: str) -> None:
    record_cls = getattr(_policy_records(), cls)
    # `repairs` (what a lenient read fixed) is derived by the parser, never carried on the wire.
    code_fields = {f.name for f in dataclasses.fields(record_cls) if f.metadata.get("wire", True)}
    missing = code_fields - set(fields_of(raw(name)))
    assert not missing, f"{cls} has fields the {name} schema lacks: {sorted(missing)}"


@pytest.mark.parametrize(("name", "cls"), sorted(POLICY_RECORDS.items()))
def test_every_input_schema_field_reaches_the_policy_record(name: str, cls: str) -> None:
    record_cls = getattr(_policy_records(), cls)
    code_fields = {f.name for f in dataclasses.fields(record_cls)}
    unused = set(fields_of(raw(name))) - code_fields
    assert not unused, f"the {name} schema carries fields {cls} drops: {sorted(unused)}"


@pytest.mark.parametrize(("name", "cls"), sorted(POLICY_OUTPUTS.items()))
def test_every_policy_output_field_is_in_the_schema(name: str, cls: str) -> None:
    record_cls = getattr(_policy_records(), cls)
    code_fields = {f.name for f in dataclasses.fields(record_cls)}
    missing = code_fields - set(fields_of(raw(name)))
    assert not missing, f"{cls} has fields the {name} schema lacks: {sorted(missing)}"
