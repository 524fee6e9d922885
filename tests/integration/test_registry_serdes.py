"""The wire codec against the real registry (Apicurio's Confluent-compatible API) and real Kafka.

Uses the session's embedded stack (`kafka_stack` in tests/conftest.py). Every test works under its
own topic prefix, so subjects and topics never collide between tests or runs.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro import schemaless_writer

from streams import topics
from streams.serdes import (
    DecodeError,
    SchemaRejectedError,
    WireCodec,
    decode_key,
    encode_key,
    load_history,
    load_schemas,
    parse_schema_text,
)
from tests.unit.test_serdes import SAMPLES, with_defaults

pytestmark = pytest.mark.integration

AT = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
INTENT = {
    "id": "m1",
    "at": AT,
    "channel": "sms",
    "address": "+14155550124",
    "sender": "company",
    "category": "promotional",
    "has_opt_out": True,
    "body": "20% off this week. Reply STOP to opt out.",
    "jurisdiction": "US",
    "timezone": None,
    "campaign": "summer",
    "region": "US-CA",
    "subject": None,
}
# One record per topic: the unit tests' samples, with this file's intent.
RECORDS: dict[str, dict[str, Any]] = {**SAMPLES, "send-intents": INTENT}


@pytest.fixture
def prefix(unique_name: Callable[..., str]) -> str:
    return f"{unique_name('serdes')}."


@pytest.fixture
def registry(kafka_stack: Any) -> Iterator[SchemaRegistryClient]:
    client = SchemaRegistryClient({"url": kafka_stack.schema_registry_url})
    yield client
    client.close()


def test_register_all_round_trips_every_topic(registry: SchemaRegistryClient, prefix: str) -> None:
    writer = WireCodec(registry, topic_prefix=prefix)
    ids = writer.register_all()
    assert set(ids) == {f"{prefix}{spec.base}-value" for spec in topics.ALL}
    # one id per distinct schema (complaints and complaints-open share the complaint schema)
    schema_of = {f"{prefix}{spec.base}-value": spec.schema for spec in topics.ALL}
    assert len(set(ids.values())) == len(set(schema_of.values()))
    for subject, schema_id in ids.items():
        same = {other for other, other_id in ids.items() if other_id == schema_id}
        assert {schema_of[other] for other in same} == {schema_of[subject]}
    # A second codec knows nothing yet: it learns the ids from the registry.
    reader = WireCodec(SchemaRegistryClient({"url": registry.config()["url"]}), topic_prefix=prefix)
    reader.prefetch()
    for spec in topics.ALL:
        data = writer.encode(spec, RECORDS[spec.base])
        assert reader.decode(spec, data) == with_defaults(spec, RECORDS[spec.base])
        assert reader.encode(spec, RECORDS[spec.base]) == data  # the id found by lookup


def test_register_all_sets_backward_compatibility(
    registry: SchemaRegistryClient, prefix: str
) -> None:
    WireCodec(registry, topic_prefix=prefix).register_all()
    for spec in topics.ALL:
        assert registry.get_compatibility(f"{prefix}{spec.base}-value") == "BACKWARD"


def test_register_all_is_idempotent(registry: SchemaRegistryClient, prefix: str) -> None:
    codec = WireCodec(registry, topic_prefix=prefix)
    first = codec.register_all()
    again = WireCodec(registry, topic_prefix=prefix).register_all()
    assert again == first
    assert registry.get_versions(f"{prefix}send-intents-value") == [1]


def test_v1_then_v2_accepted_and_v1_bytes_still_decode(
    registry: SchemaRegistryClient, prefix: str
) -> None:
    subject = f"{prefix}send-intents-value"
    v1 = load_history()["intent.v1"]
    v1_id = registry.register_schema(subject, Schema(v1.text, "AVRO"))
    registry.set_compatibility(subject_name=subject, level="BACKWARD")

    codec = WireCodec(registry, topic_prefix=prefix)
    v2_id = codec.register_all(topics=(topics.INTENTS,))[subject]
    assert v2_id != v1_id
    assert sorted(registry.get_versions(subject)) == [1, 2]

    old = {k: v for k, v in INTENT.items() if k not in ("region", "subject")}
    out = io.BytesIO()
    schemaless_writer(out, v1.parsed, old)
    data = b"\x00" + v1_id.to_bytes(4, "big") + out.getvalue()
    assert codec.decode(topics.INTENTS, data) == {**old, "region": None, "subject": None}


def test_a_breaking_change_is_rejected(registry: SchemaRegistryClient, prefix: str) -> None:
    codec = WireCodec(registry, topic_prefix=prefix)
    codec.register_all(topics=(topics.INTENTS,))

    breaking = json.loads(load_schemas()["intent"].text)
    breaking["fields"].append({"name": "must_have", "type": "string", "doc": "no default"})
    incompatible = WireCodec(
        registry,
        topic_prefix=prefix,
        schemas={"intent": parse_schema_text(json.dumps(breaking), "intent")},
    )
    with pytest.raises(SchemaRejectedError):
        incompatible.register_all(topics=(topics.INTENTS,))

    retyped = json.loads(load_schemas()["intent"].text)
    for f in retyped["fields"]:
        if f["name"] == "channel":
            f["type"] = ["null", "int"]
    with pytest.raises(SchemaRegistryError):
        registry.register_schema(f"{prefix}send-intents-value", Schema(json.dumps(retyped), "AVRO"))
    assert registry.get_versions(f"{prefix}send-intents-value") == [1]


def test_an_id_of_another_subject_is_refused(registry: SchemaRegistryClient, prefix: str) -> None:
    codec = WireCodec(registry, topic_prefix=prefix)
    codec.register_all()
    consent = codec.encode(topics.CONSENT, RECORDS["consent-events"])
    with pytest.raises(DecodeError) as caught:
        WireCodec(registry, topic_prefix=prefix).decode(topics.INTENTS, consent)
    assert caught.value.error_class == "unknown_schema"


def test_unknown_subject_and_unknown_id(registry: SchemaRegistryClient, prefix: str) -> None:
    codec = WireCodec(registry, topic_prefix=prefix)  # nothing registered under this prefix
    with pytest.raises(DecodeError) as caught:
        codec.decode(topics.INTENTS, b"\x00\x7f\xff\xff\xf0" + b"\x02m1")
    assert caught.value.error_class == "unknown_schema"


def test_produce_and_consume_through_kafka(
    kafka_stack: Any, registry: SchemaRegistryClient, prefix: str
) -> None:
    codec = WireCodec(registry, topic_prefix=prefix)
    codec.register_all(topics=(topics.INTENTS,))
    topic = topics.INTENTS.name(prefix)
    admin = AdminClient({"bootstrap.servers": kafka_stack.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, num_partitions=1)]).values():
        future.result(timeout=30)

    producer = Producer({"bootstrap.servers": kafka_stack.bootstrap_servers, "acks": "all"})
    delivered: list[Any] = []
    producer.produce(
        topic,
        key=encode_key(INTENT["address"]),
        value=codec.encode(topics.INTENTS, INTENT),
        on_delivery=lambda err, msg: delivered.append(err or msg),
    )
    assert producer.flush(30) == 0
    assert delivered and not isinstance(delivered[0], KafkaError), delivered

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_stack.bootstrap_servers,
            "group.id": f"{prefix}serdes",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        msg = None
        while msg is None and time.monotonic() < deadline:
            polled = consumer.poll(1.0)
            if polled is not None and polled.error() is None:
                msg = polled
        assert msg is not None, "no record consumed within 60 s"
        reader = WireCodec(
            SchemaRegistryClient({"url": kafka_stack.schema_registry_url}), topic_prefix=prefix
        )
        assert decode_key(msg.key()) == INTENT["address"]
        assert reader.decode(topics.INTENTS, msg.value()) == INTENT
    finally:
        consumer.close()
