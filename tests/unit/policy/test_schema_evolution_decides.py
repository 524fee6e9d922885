"""Records written with the v1 schemas (before `basis` and `region`) still parse and decide."""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import schemaless_writer

from connectors.producer import wire_record
from streams import topics
from streams.policy.config import PolicyConfig
from streams.policy.engine import decide
from streams.policy.records import ConsentRecord, SendIntent, parse_record
from streams.policy.state import apply
from streams.serdes import WireCodec, load_history
from tests.builders import consent, intent, mock_codec, mock_registry


def _v1_bytes(codec: WireCodec, registry: SchemaRegistryClient, name: str,
              spec: topics.TopicSpec, record: dict[str, Any]) -> bytes:  # fmt: skip
    v1 = load_history()[name]
    schema_id = registry.register_schema(codec.subject(spec), Schema(v1.text, "AVRO"))
    out = io.BytesIO()
    schemaless_writer(out, v1.parsed, record)
    return struct.pack(">bI", 0, schema_id) + out.getvalue()


def test_a_v1_consent_decodes_parses_and_decides_as_express() -> None:
    registry = mock_registry()
    codec = mock_codec(registry, topic_prefix="t.")
    v1_consent = wire_record(consent(at=datetime(2026, 6, 1, 16, 0, tzinfo=UTC)))
    decoded = codec.decode(topics.CONSENT, _v1_bytes(codec, registry, "consent.v1",
                                                      topics.CONSENT, v1_consent))  # fmt: skip
    assert decoded["basis"] == "express"
    record = parse_record(decoded, kind="consent")
    assert isinstance(record, ConsentRecord) and record.basis == "express"

    v1_intent = wire_record(intent(at=datetime(2026, 6, 1, 18, 0, tzinfo=UTC), timezone=None,
                                   campaign=None))  # fmt: skip
    decoded_intent = codec.decode(topics.INTENTS, _v1_bytes(codec, registry, "intent.v1",
                                                            topics.INTENTS, v1_intent))  # fmt: skip
    assert decoded_intent["region"] is None
    parsed = parse_record(decoded_intent, kind="intent")
    assert isinstance(parsed, SendIntent) and parsed.region is None

    config = PolicyConfig()
    verdict = decide(parsed, apply(None, record, config), {}, config).verdict
    assert (verdict.decision, verdict.reason) == ("allow", "CONSENT_VALID")
