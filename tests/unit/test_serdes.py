"""The Confluent wire format codec: round trips, and hostile bytes refused with the right class.

Unit tests run against confluent-kafka's in-memory `mock://` registry; the real registry is in
tests/integration/test_registry_serdes.py.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streams.serdes.codec as codec_module
from connectors.producer import wire_record
from streams import topics
from streams.serdes import (
    DECODE_ERROR_CLASSES,
    DecodeError,
    EncodeError,
    ParsedSchema,
    RegistryUnavailableError,
    SchemaNotRegisteredError,
    SchemaRejectedError,
    WireCodec,
    decode_key,
    encode_key,
    load_history,
    load_schemas,
    parse_schema_text,
)
from streams.topics import TopicSpec
from tests.builders import (
    consent,
    intent,
    mock_codec,
    mock_registry,
    optout,
    partner,
    without_fast_path,
)

AT = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def fa_read(data: bytes, writer: Any, reader: Any = None) -> dict[str, Any]:
    """fastavro alone, without our checks."""
    value: Any = schemaless_reader(io.BytesIO(data), writer, reader)
    return value


SCHEMAS = load_schemas()

COMPLAINT_SAMPLE: dict[str, Any] = {
    "id": "k1", "at": AT, "channel": "email", "address": "pat@example.com", "party": None,
    "jurisdiction": "GB", "text": "Stop it.", "region": "GB-SCT", "timezone": "Europe/London",
}  # fmt: skip
SAMPLES: dict[str, dict[str, Any]] = {
    "consent-events": wire_record(
        consent(
            id="c1",
            at=AT,
            channel="email",
            evidence={"source": "signup-form", "ip": "192.0.2.1"},
            basis="express",
        )
    ),
    "optout-events": wire_record(optout(id="o1", at=AT, address="+14155550124")),
    "partner-agreements": wire_record(partner(id="p1", at=AT, expires=AT + timedelta(days=365))),
    "send-intents": wire_record(
        intent(
            id="m1",
            at=AT,
            address="+14155550124",
            body="20% off this week. Reply STOP to opt out. — ünïcode ✓",
            timezone="America/Los_Angeles",
            campaign="summer",
            region="US-CA",
            subject="Summer — ünïcode",
        )
    ),
    "verdicts": {
        "id": "m1",
        "decision": "deny",
        "reason": "NO_CONSENT",
        "reasons": ["NO_CONSENT", "MISSING_OPT_OUT"],
        "policy_version": "no-unsolicited-advertising/2026-06",
        "decided_at": AT,
        "channel": "sms",
        "sender": "company",
        "category": "promotional",
        "rules_evaluated": ["third_party", "content", "consent"],
        "intent_at": AT,
        "detail": None,
        "grant_id": None,
        "confirm_id": None,
        "agreement_id": "p1",
        "optout_id": "o1",
        "recipient_ref": "k1:4sfvq7tl2q3mcz5jyvmvt3hvx4",
    },
    "violations": {
        "id": "m1:NO_CONSENT",
        "intent_id": "m1",
        "sender": "company",
        "channel": "sms",
        "rule": "NO_CONSENT",
        "severity": "high",
        "at": AT,
        "reasons": ["NO_CONSENT"],
        "campaign": None,
        "policy_version": "no-unsolicited-advertising/2026-06",
        "recipient_ref": "k1:4sfvq7tl2q3mcz5jyvmvt3hvx4",
        "complaint_id": None,
        "deadline": None,
        "intent_at": None,
        "optout_id": "o1",
        "optout_at": AT,
        "delivered_at": None,
        "delivered_ref": None,
    },
    "complaints": COMPLAINT_SAMPLE,
    "complaints-open": {**COMPLAINT_SAMPLE, "text": None},
    "complaint-acks": {"id": "a1", "complaint_id": "k1", "at": AT},
    "erasure-requests": {
        "id": "e1",
        "at": AT,
        "address": "+14155550124",
        "channel": "sms",
        "jurisdiction": "US",
        "requested_by": "dpo-7",
        "reason": "GDPR Art. 17",
    },
    "deliveries": {
        "id": "d1",
        "intent_id": "m1",
        "at": AT,
        "channel": "sms",
        "address": "+14155550124",
        "sender": "company",
        "jurisdiction": "US",
    },
    "ledger": {
        "id": "consent:c1",
        "kind": "consent",
        "record_id": "c1",
        "at": AT,
        "received_at": AT + timedelta(seconds=1),
        "channel": "email",
        "address": "alice@example.com",
        "recipient_ref": "k1:4sfvq7tl2q3mcz5jyvmvt3hvx4",
        "party": "company",
        "action": "grant",
        "purpose": "marketing",
        "basis": "express",
        "method": None,
        "jurisdiction": "US",
        "expires": None,
        "evidence": {"source": "signup-form", "ip": "192.0.2.1"},
        "repairs": [],
        "source_topic": "consent-events",
        "source_partition": 0,
        "source_offset": 7,
    },
    "dead-letters": {
        "id": "send-intents:3:42",
        "at": AT,
        "source_topic": "send-intents",
        "source_partition": 3,
        "source_offset": 42,
        "source_line": None,
        "key": b"+14155550124",
        "value": b"\x00\x00\x00\x00\x07garbage",
        "error": "magic byte 7 is not 0",
        "error_class": "wire_header",
        "record_id": None,
    },
}


# ---------------------------------------------------------------- fixtures and byte helpers


@pytest.fixture
def registry() -> SchemaRegistryClient:
    return mock_registry()


@pytest.fixture
def codec(registry: SchemaRegistryClient) -> WireCodec:
    return mock_codec(registry, topic_prefix="t.")


def zigzag(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte = z & 0x7F
        z >>= 7
        if z:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def avro_string(s: str | bytes) -> bytes:
    data = s.encode() if isinstance(s, str) else s
    return zigzag(len(data)) + data


def header(schema_id: int, magic: int = 0) -> bytes:
    return struct.pack(">BI", magic, schema_id)


def millis(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def intent_body(
    *,
    id_field: bytes = avro_string("m1"),
    at: bytes | None = None,
    has_opt_out: bytes = b"\x00",
    rest: bytes = b"\x00" * 6,
) -> bytes:
    """id, at, channel, address, sender, category (null), has_opt_out, body, jurisdiction,
    timezone, campaign, region, subject (null)."""
    at = b"\x02" + zigzag(millis(AT)) if at is None else at
    return id_field + at + b"\x00" * 4 + has_opt_out + rest


def expect(codec: WireCodec, spec: TopicSpec, data: Any, error_class: str) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        codec.decode(spec, data)
    assert caught.value.error_class == error_class, str(caught.value)
    assert error_class in DECODE_ERROR_CLASSES
    return caught.value


def with_defaults(spec: TopicSpec, record: dict[str, Any]) -> dict[str, Any]:
    schema = SCHEMAS[spec.schema]
    return {f["name"]: record.get(f["name"], f.get("default")) for f in schema.raw["fields"]}


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("spec", topics.ALL, ids=lambda s: s.base)
def test_round_trip_every_topic(codec: WireCodec, spec: TopicSpec) -> None:
    record = SAMPLES[spec.base]
    data = codec.encode(spec, record)
    assert data[0] == 0
    assert int.from_bytes(data[1:5], "big") == codec.current_schema_id(spec)
    assert codec.decode(spec, data) == record


def test_subjects_follow_topic_name_strategy(codec: WireCodec) -> None:
    assert codec.subject(topics.INTENTS) == "t.send-intents-value"
    assert set(codec.registry.get_subjects()) == {f"t.{s.base}-value" for s in topics.ALL}


def test_register_all_is_idempotent(codec: WireCodec) -> None:
    first = {s: codec.registry.get_versions(s) for s in codec.registry.get_subjects()}
    ids = codec.register_all(compatibility=None)
    assert {s: codec.registry.get_versions(s) for s in codec.registry.get_subjects()} == first
    assert ids[codec.subject(topics.INTENTS)] == codec.current_schema_id(topics.INTENTS)


def test_missing_optional_fields_take_their_defaults(codec: WireCodec) -> None:
    data = codec.encode(topics.INTENTS, {"id": "m5", "at": AT, "channel": "sms"})
    got = codec.decode(topics.INTENTS, data)
    assert got == with_defaults(topics.INTENTS, {"id": "m5", "at": AT, "channel": "sms"})
    assert got["category"] is None and got["has_opt_out"] is None and got["region"] is None
    consent = codec.decode(topics.CONSENT, codec.encode(topics.CONSENT, {"id": "c"}))
    assert consent["basis"] == "express" and consent["evidence"] is None


def test_decoded_timestamps_are_aware_utc(codec: WireCodec) -> None:
    got = codec.decode(topics.INTENTS, codec.encode(topics.INTENTS, SAMPLES["send-intents"]))
    assert got["at"].tzinfo is not None and got["at"].utcoffset() == timedelta(0)


def test_accepts_memoryview_and_bytearray(codec: WireCodec) -> None:
    data = codec.encode(topics.INTENTS, SAMPLES["send-intents"])
    assert codec.decode(topics.INTENTS, memoryview(data))["id"] == "m1"
    assert codec.decode(topics.INTENTS, bytearray(data))["id"] == "m1"


# ---------------------------------------------------------------- encode conversions and checks


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-06-01T16:00:00Z", AT),
        ("2026-06-01T18:00:00+02:00", AT),
        ("2026-06-01T16:00:00.123456Z", AT + timedelta(milliseconds=123)),
        (AT.astimezone(timezone(timedelta(hours=-7))), AT),
        (millis(AT), AT),
        (AT + timedelta(microseconds=999), AT),  # milliseconds: truncated, like fastavro
    ],
)
def test_timestamps_accept_aware_datetimes_iso_text_and_millis(
    codec: WireCodec, given: Any, expected: datetime
) -> None:
    record = {**SAMPLES["verdicts"], "decided_at": given}
    assert codec.decode(topics.VERDICTS, codec.encode(topics.VERDICTS, record))["decided_at"] == (
        expected
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"decided_at": datetime(2026, 6, 1, 16, 0)},  # naive: fastavro would use local time
        {"decided_at": "2026-06-01T16:00:00"},  # naive text
        {"decided_at": "yesterday"},
        {"decided_at": True},
        {"reasons": "NO_CONSENT"},  # a string is not a list of strings
        {"reasons": [1]},
        {"decision": None},  # required, not nullable
        {"decision": 1},
        {"intent_at": 1.5},
        {"unknown_field": "x"},  # not in the schema: refused, never silently dropped
    ],
)
def test_encode_refuses_what_does_not_fit(codec: WireCodec, bad: dict[str, Any]) -> None:
    with pytest.raises(EncodeError) as caught:
        codec.encode(topics.VERDICTS, {**SAMPLES["verdicts"], **bad})
    assert caught.value.error_class == "encode"


def test_encode_refuses_missing_required_field(codec: WireCodec) -> None:
    record = dict(SAMPLES["verdicts"])
    del record["reason"]
    with pytest.raises(EncodeError, match="reason: required"):
        codec.encode(topics.VERDICTS, record)


@pytest.mark.parametrize("bad", ["false", 1, 0, "true"])
def test_encode_never_coerces_to_boolean(codec: WireCodec, bad: Any) -> None:
    # fastavro alone writes "false" as true.
    with pytest.raises(EncodeError):
        codec.encode(topics.INTENTS, {**SAMPLES["send-intents"], "has_opt_out": bad})


@pytest.mark.parametrize("bad", [2**31, -(2**31) - 1, True, 3.0])
def test_encode_refuses_int_out_of_range(codec: WireCodec, bad: Any) -> None:
    with pytest.raises(EncodeError):
        codec.encode(topics.DEAD_LETTERS, {**SAMPLES["dead-letters"], "source_partition": bad})


def test_encode_refuses_non_string_map_values_and_non_mappings(codec: WireCodec) -> None:
    with pytest.raises(EncodeError):
        codec.encode(topics.CONSENT, {**SAMPLES["consent-events"], "evidence": {"source": 1}})
    with pytest.raises(EncodeError):
        codec.encode(topics.CONSENT, ["not", "a", "mapping"])  # type: ignore[arg-type]


def test_encode_does_not_mutate_the_record(codec: WireCodec) -> None:
    record = {**SAMPLES["verdicts"], "decided_at": "2026-06-01T16:00:00Z"}
    before = dict(record)
    codec.encode(topics.VERDICTS, record)
    assert record == before


def test_encode_refuses_more_than_the_size_limit(registry: SchemaRegistryClient) -> None:
    small = WireCodec(registry, max_message_bytes=64)
    small.register_all(compatibility=None)
    with pytest.raises(EncodeError, match="more than 64"):
        small.encode(topics.INTENTS, {**SAMPLES["send-intents"], "body": "x" * 100})


# ---------------------------------------------------------------- hostile bytes


def test_none_and_empty(codec: WireCodec) -> None:
    expect(codec, topics.INTENTS, None, "empty")
    expect(codec, topics.INTENTS, b"", "empty")


def test_shorter_than_the_header(codec: WireCodec) -> None:
    expect(codec, topics.INTENTS, b"\x00\x00\x00\x01", "wire_header")
    expect(codec, topics.INTENTS, b"\x00", "wire_header")


def test_magic_byte_not_zero(codec: WireCodec) -> None:
    good = codec.encode(topics.INTENTS, SAMPLES["send-intents"])
    err = expect(codec, topics.INTENTS, b"\x01" + good[1:], "wire_header")
    assert "magic byte 1" in str(err)
    expect(codec, topics.INTENTS, b'{"id": "m1"}', "wire_header")  # JSON is not our format


def test_unknown_schema_id(codec: WireCodec) -> None:
    good = codec.encode(topics.INTENTS, SAMPLES["send-intents"])
    expect(codec, topics.INTENTS, header(99999) + good[5:], "unknown_schema")
    expect(codec, topics.INTENTS, header(2**32 - 1) + good[5:], "unknown_schema")


def test_id_of_another_subject_is_refused(codec: WireCodec) -> None:
    consent = codec.encode(topics.CONSENT, SAMPLES["consent-events"])
    err = expect(codec, topics.INTENTS, consent, "unknown_schema")
    assert "t.send-intents-value" in str(err)


def test_trailing_byte(codec: WireCodec) -> None:
    good = codec.encode(topics.INTENTS, SAMPLES["send-intents"])
    err = expect(codec, topics.INTENTS, good + b"\x00", "trailing_bytes")
    assert "1 bytes after" in str(err)


def test_truncated_body(codec: WireCodec) -> None:
    good = codec.encode(topics.INTENTS, SAMPLES["send-intents"])
    for cut in (6, 10, len(good) // 2, len(good) - 1):
        expect(codec, topics.INTENTS, good[:cut], "avro_decode")
    expect(codec, topics.INTENTS, good[:5], "avro_decode")  # a header and no body


def test_negative_union_index_is_not_read_as_the_last_branch(codec: WireCodec) -> None:
    intent_id = codec.current_schema_id(topics.INTENTS)
    # has_opt_out is ["null", "boolean"]: index -1 (zigzag 0x01), then true.
    body = intent_body(has_opt_out=b"\x01\x01")
    # The trap: fastavro alone reads index -1 as the last branch, so has_opt_out=True.
    trap = fa_read(body, SCHEMAS["intent"].parsed, None)
    assert trap["has_opt_out"] is True
    expect(codec, topics.INTENTS, header(intent_id) + body, "non_canonical")
    # index -2 (zigzag 0x03) picks the first branch in fastavro: null
    expect(
        codec, topics.INTENTS, header(intent_id) + intent_body(has_opt_out=b"\x03"), "non_canonical"
    )
    # and the canonical encoding of the same value passes
    assert (
        codec.decode(topics.INTENTS, header(intent_id) + intent_body(has_opt_out=b"\x02\x01"))[
            "has_opt_out"
        ]
        is True
    )


def test_trusted_decode_skips_only_the_canonical_check(codec: WireCodec) -> None:
    # The reconciler reads the gate's own verdicts back: no re-encode, every other check stays.
    intent_id = codec.current_schema_id(topics.INTENTS)
    odd = header(intent_id) + intent_body(id_field=b"\x84\x00m1")  # over-long varint
    expect(codec, topics.INTENTS, odd, "non_canonical")
    assert codec.decode(topics.INTENTS, odd, trusted=True)["id"] == "m1"
    good = codec.encode(topics.INTENTS, SAMPLES["send-intents"])
    assert codec.decode(topics.INTENTS, good, trusted=True) == codec.decode(topics.INTENTS, good)
    for bad, error_class in ((good + b"\x00", "trailing_bytes"), (good[:4], "wire_header"),
                             (good[: len(good) // 2], "avro_decode")):  # fmt: skip
        with pytest.raises(DecodeError) as raised:
            codec.decode(topics.INTENTS, bad, trusted=True)
        assert raised.value.error_class == error_class


def test_union_index_out_of_range(codec: WireCodec) -> None:
    intent_id = codec.current_schema_id(topics.INTENTS)
    expect(
        codec, topics.INTENTS, header(intent_id) + intent_body(has_opt_out=b"\x0e"), "avro_decode"
    )


def test_boolean_byte_other_than_0_or_1(codec: WireCodec) -> None:
    intent_id = codec.current_schema_id(topics.INTENTS)
    expect(
        codec,
        topics.INTENTS,
        header(intent_id) + intent_body(has_opt_out=b"\x02\x07"),
        "non_canonical",
    )


def test_non_minimal_varint(codec: WireCodec) -> None:
    intent_id = codec.current_schema_id(topics.INTENTS)
    # the length of "m1" (2, zigzag 4) written over two bytes: 0x84 0x00
    body = intent_body(id_field=b"\x84\x00m1")
    assert fa_read(body, SCHEMAS["intent"].parsed, None)["id"] == "m1"
    expect(codec, topics.INTENTS, header(intent_id) + body, "non_canonical")
    # an over-long timestamp varint
    at = b"\x02" + zigzag(millis(AT))[:-1] + bytes([zigzag(millis(AT))[-1] | 0x80]) + b"\x00"
    expect(codec, topics.INTENTS, header(intent_id) + intent_body(at=at), "non_canonical")


@pytest.mark.timeout(5)
def test_huge_length_prefix_neither_allocates_nor_hangs(codec: WireCodec) -> None:
    intent_id = codec.current_schema_id(topics.INTENTS)
    for declared in (2**40, 2**62, -5):
        body = zigzag(declared) + b"m1"
        expect(codec, topics.INTENTS, header(intent_id) + body, "avro_decode")


@pytest.mark.timeout(5)
def test_huge_array_block_count_fails_fast(codec: WireCodec) -> None:
    verdict_id = codec.current_schema_id(topics.VERDICTS)
    body = (
        avro_string("m1")
        + avro_string("deny")
        + avro_string("NO_CONSENT")
        + zigzag(2**40)
        + b"\x00"
    )
    expect(codec, topics.VERDICTS, header(verdict_id) + body, "avro_decode")


def test_blocked_array_with_negative_count_is_refused(codec: WireCodec) -> None:
    # Legal Avro (count -1, then the block's size in bytes), but not what any of our writers
    # produce: refused as non-canonical, on purpose.
    verdict_id = codec.current_schema_id(topics.VERDICTS)
    item = avro_string("NO_CONSENT")
    reasons = zigzag(-1) + zigzag(len(item)) + item + b"\x00"
    # policy_version, decided_at, then channel, sender, category, rules_evaluated ([]),
    # intent_at, detail and the five fields of v2 (issue 15): all null or empty
    tail = avro_string("v1") + zigzag(millis(AT)) + b"\x00" * 11
    body = avro_string("m1") + avro_string("deny") + avro_string("NO_CONSENT") + reasons + tail
    canonical = zigzag(1) + item + b"\x00"
    ok = avro_string("m1") + avro_string("deny") + avro_string("NO_CONSENT") + canonical + tail
    assert codec.decode(topics.VERDICTS, header(verdict_id) + ok)["reasons"] == ["NO_CONSENT"]
    expect(codec, topics.VERDICTS, header(verdict_id) + body, "non_canonical")


def test_duplicate_map_keys_are_refused(codec: WireCodec) -> None:
    consent_id = codec.current_schema_id(topics.CONSENT)
    evidence = b"\x02" + zigzag(2) + avro_string("source") + avro_string("a")
    evidence += avro_string("source") + avro_string("b") + b"\x00"
    body = avro_string("c1") + b"\x00" * 6 + evidence + b"\x00" + avro_string("express")
    expect(codec, topics.CONSENT, header(consent_id) + body, "non_canonical")


def test_invalid_utf8_in_a_string(codec: WireCodec) -> None:
    intent_id = codec.current_schema_id(topics.INTENTS)
    body = intent_body(id_field=avro_string(b"m\xff"))
    err = expect(codec, topics.INTENTS, header(intent_id) + body, "avro_decode")
    assert "UnicodeDecodeError" in str(err)
    # an overlong encoding of "/" and a lone surrogate are refused by the strict decoder too
    for bad in (b"\xc0\xaf", b"\xed\xa0\x80"):
        body = intent_body(id_field=avro_string(bad))
        expect(codec, topics.INTENTS, header(intent_id) + body, "avro_decode")


def test_timestamp_out_of_datetime_range(codec: WireCodec) -> None:
    intent_id = codec.current_schema_id(topics.INTENTS)
    for ms in (2**62, -(2**62), 253402300800000):  # the last: year 10000
        body = intent_body(at=b"\x02" + zigzag(ms))
        expect(codec, topics.INTENTS, header(intent_id) + body, "avro_decode")


def test_int_out_of_32_bits(codec: WireCodec) -> None:
    letter_id = codec.current_schema_id(topics.DEAD_LETTERS)
    good = codec.encode(topics.DEAD_LETTERS, {**SAMPLES["dead-letters"], "source_partition": 3})
    body = good[5:]
    prefix = (
        avro_string("send-intents:3:42")
        + zigzag(millis(AT))
        + b"\x02"
        + avro_string("send-intents")
    )
    assert body.startswith(prefix + b"\x02" + zigzag(3))
    bad = prefix + b"\x02" + zigzag(2**40) + body[len(prefix) + 2 :]
    # fastavro reads an int of any size
    assert fa_read(bad, SCHEMAS["dead_letter"].parsed, None)["source_partition"] == 2**40
    err = expect(codec, topics.DEAD_LETTERS, header(letter_id) + bad, "avro_decode")
    assert "32-bit" in str(err)


def test_over_the_size_limit_is_refused_before_parsing(registry: SchemaRegistryClient) -> None:
    small = WireCodec(registry, max_message_bytes=100)
    small.register_all(compatibility=None)
    expect(small, topics.INTENTS, b"\x00" * 101, "too_large")
    expect(small, topics.INTENTS, b"\x07" * 101, "too_large")  # before the header is looked at


def test_default_size_limit_is_one_mebibyte(codec: WireCodec) -> None:
    assert codec.max_message_bytes == 1024 * 1024
    expect(codec, topics.INTENTS, b"\x00" * (1024 * 1024 + 1), "too_large")


# ---------------------------------------------------------------- enums (none in our schemas)

ENUM_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "WithEnum",
        "namespace": "test",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["A", "B"]}},
        ],
    }
)


def test_negative_enum_index(registry: SchemaRegistryClient) -> None:
    spec = TopicSpec("enum-test", key="x", schema="with_enum")
    enum_codec = WireCodec(registry, schemas={"with_enum": parse_schema_text(ENUM_SCHEMA, "e")})
    enum_codec.register_all(compatibility=None, topics=(spec,))
    schema_id = enum_codec.current_schema_id(spec)
    assert enum_codec.decode(spec, enum_codec.encode(spec, {"id": "x", "color": "A"}))["color"] == (
        "A"
    )
    body = avro_string("x") + zigzag(-1)
    parsed = parse_schema(json.loads(ENUM_SCHEMA))
    assert fa_read(body, parsed, None)["color"] == "B"  # the trap
    expect(enum_codec, spec, header(schema_id) + body, "non_canonical")
    expect(enum_codec, spec, header(schema_id) + avro_string("x") + zigzag(5), "avro_decode")
    with pytest.raises(EncodeError):
        enum_codec.encode(spec, {"id": "x", "color": "C"})


# ---------------------------------------------------------------- writer schemas and evolution


def reads_of(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The reader schema of every Avro read the codec makes from now on (None: the writer's own
    schema, no resolution)."""
    readers: list[Any] = []
    real = codec_module.schemaless_reader

    def spy(fo: Any, writer: Any, reader: Any = None, *args: Any, **kwargs: Any) -> Any:
        readers.append(reader)
        return real(fo, writer, reader, *args, **kwargs)

    monkeypatch.setattr(codec_module, "schemaless_reader", spy)
    return readers


def _register_raw(registry: SchemaRegistryClient, subject: str, text: str) -> int:
    return registry.register_schema(subject, Schema(text, "AVRO"))


def test_v1_intent_bytes_decode_with_the_current_schema(
    codec: WireCodec, registry: SchemaRegistryClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = load_history()["intent.v1"]
    v1_id = _register_raw(registry, codec.subject(topics.INTENTS), v1.text)
    record = {k: v for k, v in SAMPLES["send-intents"].items() if k not in ("region", "subject")}
    out = io.BytesIO()
    schemaless_writer(out, v1.parsed, record)
    readers = reads_of(monkeypatch)
    got = codec.decode(topics.INTENTS, header(v1_id) + out.getvalue())
    assert got == {**record, "region": None, "subject": None}
    assert readers[-1] is codec.schema_for(topics.INTENTS).parsed, "resolved to the current"
    # and the checks apply to old versions too
    expect(codec, topics.INTENTS, header(v1_id) + out.getvalue() + b"\x00", "trailing_bytes")


def test_v1_consent_bytes_decode_with_basis_express(
    codec: WireCodec, registry: SchemaRegistryClient
) -> None:
    v1 = load_history()["consent.v1"]
    v1_id = _register_raw(registry, codec.subject(topics.CONSENT), v1.text)
    record = {k: v for k, v in SAMPLES["consent-events"].items() if k != "basis"}
    out = io.BytesIO()
    schemaless_writer(out, v1.parsed, record)
    assert codec.decode(topics.CONSENT, header(v1_id) + out.getvalue()) == {
        **record,
        "basis": "express",
    }


def test_same_shape_other_docs_decodes_without_resolution(
    codec: WireCodec, registry: SchemaRegistryClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = json.loads(SCHEMAS["intent"].text)
    raw["doc"] = "another producer's copy"
    for f in raw["fields"]:
        f.pop("doc")
        f.pop("pii", None)
    other_id = _register_raw(registry, codec.subject(topics.INTENTS), json.dumps(raw))
    data = codec.encode(topics.INTENTS, SAMPLES["send-intents"])
    readers = reads_of(monkeypatch)
    assert codec.decode(topics.INTENTS, header(other_id) + data[5:]) == SAMPLES["send-intents"]
    assert readers == [], "read by the current schema's compiled reader: no resolution"
    # and without compiled readers, fastavro reads it once, still without resolution
    plain = WireCodec(registry, topic_prefix="t.", schemas=without_fast_path(SCHEMAS))
    assert plain.decode(topics.INTENTS, header(other_id) + data[5:]) == SAMPLES["send-intents"]
    assert readers == [None]


RECURSIVE = json.dumps(
    {
        "type": "record",
        "name": "SendIntent",
        "namespace": "io.consentgate",
        "fields": [
            {"name": "id", "type": "string"},
            {
                "name": "next",
                "type": ["null", "SendIntent"],
                "default": None,
            },
        ],
    }
)


def test_recursive_writer_schema_is_refused(
    codec: WireCodec, registry: SchemaRegistryClient
) -> None:
    # A recursive writer schema could be registered compatibly; a value nested 5000 deep
    # would segfault fastavro's reader. We refuse the schema, not just deep values.
    bad_id = _register_raw(registry, codec.subject(topics.INTENTS), RECURSIVE)
    body = (avro_string("x") + b"\x02") * 10 + avro_string("x") + b"\x00"
    err = expect(codec, topics.INTENTS, header(bad_id) + body, "unknown_schema")
    assert "recursive" in str(err)


def test_non_avro_writer_schema_is_refused(
    codec: WireCodec, registry: SchemaRegistryClient
) -> None:
    json_id = registry.register_schema(
        codec.subject(topics.INTENTS), Schema('{"type": "object"}', "JSON")
    )
    expect(codec, topics.INTENTS, header(json_id) + b"{}", "unknown_schema")


def test_a_version_registered_later_is_picked_up(registry: SchemaRegistryClient) -> None:
    reader = WireCodec(registry, refresh_interval=0)
    reader.register_all(compatibility=None)
    reader.prefetch()
    v1 = load_history()["intent.v1"]
    v1_id = _register_raw(registry, reader.subject(topics.INTENTS), v1.text)
    out = io.BytesIO()
    schemaless_writer(out, v1.parsed, {"id": "late"})
    assert reader.decode(topics.INTENTS, header(v1_id) + out.getvalue())["id"] == "late"


class CountingRegistry:
    """The mock registry behind a counter, able to fail like an unreachable registry."""

    def __init__(self) -> None:
        self.mock = mock_registry()
        self.calls: list[str] = []
        self.down = False
        self.compatibility: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:  # what is not counted goes to the mock as it is
        return getattr(self.mock, name)

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.down:
            raise ConnectionRefusedError("connection refused")

    def get_versions(self, *args: Any, **kwargs: Any) -> list[int]:
        self._call("get_versions")
        return self.mock.get_versions(*args, **kwargs)

    def get_version(self, *args: Any, **kwargs: Any) -> Any:
        self._call("get_version")
        return self.mock.get_version(*args, **kwargs)

    def lookup_schema(self, *args: Any, **kwargs: Any) -> Any:
        self._call("lookup_schema")
        return self.mock.lookup_schema(*args, **kwargs)

    def register_schema(self, *args: Any, **kwargs: Any) -> int:
        self._call("register_schema")
        return self.mock.register_schema(*args, **kwargs)

    def set_compatibility(self, subject_name: str | None = None, level: str | None = None) -> str:
        # Like a registry that refuses config for a subject with no versions yet (Apicurio).
        self._call("set_compatibility")
        assert subject_name is not None and level is not None
        if subject_name not in self.mock.get_subjects():
            raise SchemaRegistryError(404, 40401, f"Subject {subject_name} not found")
        self.compatibility[subject_name] = level
        return level


@pytest.fixture
def counting() -> CountingRegistry:
    return CountingRegistry()


def test_register_all_sets_compatibility_on_every_subject(counting: CountingRegistry) -> None:
    c = WireCodec(counting, topic_prefix="p.")
    c.register_all()
    assert counting.compatibility == {f"p.{s.base}-value": "BACKWARD" for s in topics.ALL}
    # second run: compatibility is set before the new version is registered
    counting.calls.clear()
    c.register_all(compatibility="FULL_TRANSITIVE", topics=(topics.INTENTS,))
    assert counting.calls[:2] == ["set_compatibility", "register_schema"]
    assert counting.compatibility["p.send-intents-value"] == "FULL_TRANSITIVE"


def test_register_all_reports_a_refused_schema() -> None:
    class Refusing(CountingRegistry):
        def register_schema(self, *args: Any, **kwargs: Any) -> int:
            raise SchemaRegistryError(409, 409, "Schema being registered is incompatible")

    c = WireCodec(Refusing())
    with pytest.raises(SchemaRejectedError, match="incompatible"):
        c.register_all(compatibility=None)


def test_hot_path_makes_no_registry_call_after_prefetch(counting: CountingRegistry) -> None:
    WireCodec(counting).register_all(compatibility=None)
    c = WireCodec(counting)
    c.prefetch()
    counting.calls.clear()
    counting.down = True
    for spec in topics.ALL:
        assert c.decode(spec, c.encode(spec, SAMPLES[spec.base])) == SAMPLES[spec.base]
    assert counting.calls == []


def test_unknown_ids_refresh_at_most_once_per_interval(counting: CountingRegistry) -> None:
    now = [100.0]
    c = WireCodec(counting, refresh_interval=5.0, clock=lambda: now[0])
    c.register_all(compatibility=None)
    body = c.encode(topics.INTENTS, SAMPLES["send-intents"])[5:]
    counting.calls.clear()
    for bogus in range(1000, 1050):  # a flood of made-up ids: one refresh, not fifty
        expect(c, topics.INTENTS, header(bogus) + body, "unknown_schema")
    assert counting.calls.count("get_versions") == 1
    now[0] += 6
    expect(c, topics.INTENTS, header(2000) + body, "unknown_schema")
    assert counting.calls.count("get_versions") == 2


def test_registry_down_is_not_a_decode_error(counting: CountingRegistry) -> None:
    WireCodec(counting).register_all(compatibility=None)
    c = WireCodec(counting)
    data = WireCodec(counting).encode(topics.INTENTS, SAMPLES["send-intents"])
    counting.down = True
    with pytest.raises(RegistryUnavailableError) as caught:
        c.decode(topics.INTENTS, data)
    assert not isinstance(caught.value, DecodeError)
    with pytest.raises(RegistryUnavailableError):
        c.encode(topics.INTENTS, SAMPLES["send-intents"])
    counting.down = False  # and it recovers: the failed refresh did not stick
    assert c.decode(topics.INTENTS, data)["id"] == "m1"


def test_encode_needs_the_schema_registered(registry: SchemaRegistryClient) -> None:
    c = WireCodec(registry)
    with pytest.raises(SchemaNotRegisteredError, match="register_all"):
        c.encode(topics.INTENTS, SAMPLES["send-intents"])
    auto = WireCodec(registry, auto_register=True)
    data = auto.encode(topics.INTENTS, SAMPLES["send-intents"])
    assert c.decode(topics.INTENTS, data) == SAMPLES["send-intents"]
    assert c.encode(topics.INTENTS, SAMPLES["send-intents"]) == data  # found by lookup now


def test_current_schema_found_when_registered_with_other_formatting(
    registry: SchemaRegistryClient,
) -> None:
    # Apicurio's lookup compares raw text; another tool may have registered our schema
    # pretty-printed. The codec finds it among the subject's versions by JSON equality.
    subject = WireCodec(registry).subject(topics.INTENTS)
    pretty = json.dumps(SCHEMAS["intent"].raw, indent=2)
    schema_id = _register_raw(registry, subject, pretty)
    c = WireCodec(registry)
    assert c.current_schema_id(topics.INTENTS) == schema_id
    data = c.encode(topics.INTENTS, SAMPLES["send-intents"])
    assert c.decode(topics.INTENTS, data) == SAMPLES["send-intents"]


# ---------------------------------------------------------------- keys


def test_keys_are_plain_utf8() -> None:
    assert encode_key("+14155550124") == b"+14155550124"
    assert encode_key("zoë@example.com") == "zoë@example.com".encode()
    assert decode_key("zoë@example.com".encode()) == "zoë@example.com"
    assert decode_key(None) is None
    assert decode_key(b"") == ""


@pytest.mark.parametrize("bad", [b"\xff", b"abc\xc0\xaf", b"\xed\xa0\x80", b"x" * 1025])
def test_bad_keys(bad: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_key(bad)
    assert caught.value.error_class == "bad_key"


@pytest.mark.parametrize("bad", [123, None, b"bytes", "\ud800"])
def test_encode_key_refuses_non_text(bad: Any) -> None:
    with pytest.raises(EncodeError):
        encode_key(bad)


# ---------------------------------------------------------------- properties


def strategy_for(t: Any, named: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    named = {} if named is None else named
    if isinstance(t, list):
        return st.one_of([strategy_for(b, named) for b in t])
    if isinstance(t, dict):
        if t.get("logicalType") == "timestamp-millis":
            low = millis(datetime(1, 1, 1, tzinfo=UTC))
            high = millis(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            return st.integers(low, high).map(lambda ms: epoch + timedelta(milliseconds=ms))
        kind = t["type"]
        if kind == "array":
            return st.lists(strategy_for(t["items"], named), max_size=4)
        if kind == "map":
            return st.dictionaries(
                st.text(max_size=8), strategy_for(t["values"], named), max_size=4
            )
        if kind == "record":
            required = {
                f["name"]: strategy_for(f["type"], named) for f in t["fields"] if "default" not in f
            }
            optional = {
                f["name"]: strategy_for(f["type"], named) for f in t["fields"] if "default" in f
            }
            return st.fixed_dictionaries(required, optional=optional)
        return strategy_for(kind, named)
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "string": st.text(max_size=40),
        "bytes": st.binary(max_size=40),
    }[t]


@pytest.fixture(scope="module")
def shared_codec() -> WireCodec:
    return mock_codec()


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _records() -> st.SearchStrategy[tuple[TopicSpec, dict[str, Any]]]:
    return st.sampled_from(topics.ALL).flatmap(
        lambda spec: st.tuples(st.just(spec), strategy_for(SCHEMAS[spec.schema].raw))
    )


@PROPERTY_SETTINGS
@given(_records())
def test_property_any_record_the_schema_accepts_round_trips(
    shared_codec: WireCodec, case: tuple[TopicSpec, dict[str, Any]]
) -> None:
    spec, record = case
    data = shared_codec.encode(spec, record)
    assert shared_codec.decode(spec, data) == with_defaults(spec, record)


def _valid_headers(c: WireCodec) -> st.SearchStrategy[tuple[TopicSpec, bytes]]:
    return st.sampled_from(topics.ALL).map(lambda spec: (spec, header(c.current_schema_id(spec))))


def _decode_or_refuse(c: WireCodec, spec: TopicSpec, data: bytes) -> None:
    try:
        value = c.decode(spec, data)
    except DecodeError as exc:
        assert exc.error_class in DECODE_ERROR_CLASSES
        return
    # Whatever is accepted is canonical: encoding the value again gives the very same bytes.
    assert c.encode(spec, value) == data


@PROPERTY_SETTINGS
@given(st.data())
def test_property_random_body_after_a_valid_header(shared_codec: WireCodec, data: Any) -> None:
    spec, head = data.draw(_valid_headers(shared_codec))
    body = data.draw(st.binary(max_size=300))
    _decode_or_refuse(shared_codec, spec, head + body)


@PROPERTY_SETTINGS
@given(st.sampled_from(topics.ALL), st.binary(max_size=64))
def test_property_random_bytes(shared_codec: WireCodec, spec: TopicSpec, data: bytes) -> None:
    _decode_or_refuse(shared_codec, spec, data)


Mutation = Callable[[bytes], bytes]


def _mutations() -> st.SearchStrategy[Mutation]:
    def flip(i: int, bit: int) -> Mutation:
        def apply(b: bytes) -> bytes:
            if not b:
                return b
            at = i % len(b)
            return b[:at] + bytes([b[at] ^ (1 << bit)]) + b[at + 1 :]

        return apply

    def cut(i: int) -> Mutation:
        return lambda b: b[: i % (len(b) + 1)]

    def insert(i: int, extra: bytes) -> Mutation:
        return lambda b: b[: i % (len(b) + 1)] + extra + b[i % (len(b) + 1) :]

    return st.one_of(
        st.builds(flip, st.integers(5, 10_000), st.integers(0, 7)),
        st.builds(cut, st.integers(5, 10_000)),
        st.builds(insert, st.integers(5, 10_000), st.binary(min_size=1, max_size=4)),
    )


@PROPERTY_SETTINGS
@given(_records(), st.lists(_mutations(), min_size=1, max_size=3))
def test_property_mutated_valid_records(
    shared_codec: WireCodec, case: tuple[TopicSpec, dict[str, Any]], mutations: list[Mutation]
) -> None:
    spec, record = case
    data = shared_codec.encode(spec, record)
    for mutate in mutations:
        data = mutate(data)
    _decode_or_refuse(shared_codec, spec, data)


def test_parsed_schemas_expose_what_callers_need() -> None:
    intent: ParsedSchema = SCHEMAS["intent"]
    assert intent.fullname == "io.consentgate.SendIntent"
    assert intent.pii_fields == {"address", "body", "subject"}
    assert intent.timestamp_fields == {"at"}
    assert "region" in intent.fields and "id" in intent.required


def _iter_decode_classes() -> Iterator[str]:
    yield from DECODE_ERROR_CLASSES


def test_error_classes_are_short_and_bounded() -> None:
    for name in _iter_decode_classes():
        assert name.isidentifier() and len(name) <= 20
