"""Records written with the v1 schemas (before `basis` and `region`) still parse and decide."""

from __future__ import annotations

import io
import struct
import uuid
from datetime import UTC, datetime

from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)
from fastavro import schemaless_writer

from streams import topics
from streams.policy.config import PolicyConfig
from streams.policy.engine import decide
from streams.policy.records import ConsentRecord, SendIntent, parse_record
from streams.policy.state import apply
from streams.serdes import WireCodec, load_history

AT = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def _codec() -> tuple[WireCodec, MockSchemaRegistryClient]:
    registry = MockSchemaRegistryClient({"url": f"mock://{uuid.uuid4().hex}"})
    codec = WireCodec(registry, topic_prefix="t.")
    codec.register_all(compatibility=None)  # the mock has no compatibility endpoint
    return codec, registry


def _v1_bytes(codec: WireCodec, registry: MockSchemaRegistryClient, name: str,
              spec: topics.TopicSpec, record: dict[str, object]) -> bytes:  # fmt: skip
    v1 = load_history()[name]
    schema_id = registry.register_schema(codec.subject(spec), Schema(v1.text, "AVRO"))
    out = io.BytesIO()
    schemaless_writer(out, v1.parsed, record)
    return struct.pack(">bI", 0, schema_id) + out.getvalue()


def test_a_v1_consent_decodes_parses_and_decides_as_express() -> None:
    codec, registry = _codec()
    consent = {"id": "c1", "at": AT, "channel": "sms", "address": "+14155550101",
               "party": "company", "purpose": "marketing", "action": "grant",
               "evidence": {"source": "web_form"}, "jurisdiction": "US"}  # fmt: skip
    decoded = codec.decode(topics.CONSENT, _v1_bytes(codec, registry, "consent.v1",
                                                      topics.CONSENT, consent))  # fmt: skip
    assert decoded["basis"] == "express"
    record = parse_record(decoded, kind="consent")
    assert isinstance(record, ConsentRecord) and record.basis == "express"

    intent = {"id": "m1", "at": datetime(2026, 6, 1, 18, 0, tzinfo=UTC), "channel": "sms",
              "address": "+14155550101", "sender": "company", "category": "promotional",
              "has_opt_out": True, "body": "20% off. Reply STOP to opt out.",
              "jurisdiction": "US", "timezone": None, "campaign": None}  # fmt: skip
    decoded_intent = codec.decode(topics.INTENTS, _v1_bytes(codec, registry, "intent.v1",
                                                            topics.INTENTS, intent))  # fmt: skip
    assert decoded_intent["region"] is None
    parsed = parse_record(decoded_intent, kind="intent")
    assert isinstance(parsed, SendIntent) and parsed.region is None

    config = PolicyConfig()
    verdict = decide(parsed, apply(None, record, config), {}, config).verdict
    assert (verdict.decision, verdict.reason) == ("allow", "CONSENT_VALID")
