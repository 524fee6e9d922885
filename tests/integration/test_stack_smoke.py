"""The session stack is real: Avro through the registry and the broker, schema rules, Kafka 4."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

CONTACT_V1 = """
{"type": "record", "name": "Contact", "namespace": "consentgate.test", "fields": [
  {"name": "id", "type": "string"},
  {"name": "attempt", "type": "int"},
  {"name": "at_ms", "type": "long"},
  {"name": "score", "type": "double"},
  {"name": "opted_in", "type": "boolean"},
  {"name": "note", "type": ["null", "string"], "default": null},
  {"name": "channels", "type": {"type": "array", "items": "string"}},
  {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["SMS", "EMAIL"]}}
]}
"""
# BACKWARD-compatible: a new field with a default, so v2 readers can read v1 records.
CONTACT_V2 = CONTACT_V1.replace(
    '"symbols": ["SMS", "EMAIL"]}}',
    '"symbols": ["SMS", "EMAIL"]}},\n  {"name": "region", "type": "string", "default": "EU"}',
)
# Not BACKWARD-compatible: a new required field, which v1 records do not have.
CONTACT_V3 = CONTACT_V2.replace(
    '"default": "EU"}', '"default": "EU"},\n  {"name": "tenant", "type": "string"}'
)


def _records() -> list[dict[str, Any]]:
    return [
        {
            "id": f"c-{n}",
            "attempt": n,
            "at_ms": 1_764_000_000_000 + n,
            "score": n / 4,
            "opted_in": n % 2 == 0,
            "note": None if n % 3 else f"note {n}: ünïcödé ✓",
            "channels": ["sms", "email"][: n % 3],
            "kind": "SMS" if n % 2 else "EMAIL",
        }
        for n in range(10)
    ]


def _create_topic(admin: AdminClient, topic: str, partitions: int = 1) -> None:
    new = NewTopic(topic, num_partitions=partitions, replication_factor=1)
    admin.create_topics([new])[topic].result(timeout=30)


def _consume(consumer: Consumer, topic: str, count: int, timeout: float = 30.0) -> list[Any]:
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            messages.append(message)
    finally:
        consumer.close()
    return messages


def test_avro_round_trip_through_registry_and_broker(kafka_stack, admin_client, unique_name):
    topic = unique_name("t")
    _create_topic(admin_client, topic)
    registry = SchemaRegistryClient({"url": kafka_stack.schema_registry_url})
    serialize = AvroSerializer(registry, CONTACT_V1)
    deserialize = AvroDeserializer(registry)
    context = SerializationContext(topic, MessageField.VALUE)
    sent = _records()

    producer = Producer({"bootstrap.servers": kafka_stack.bootstrap_servers})
    for record in sent:
        producer.produce(topic, key=record["id"].encode(), value=serialize(record, context))
    assert producer.flush(30) == 0

    registered = registry.get_latest_version(f"{topic}-value")
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_stack.bootstrap_servers,
            "group.id": unique_name("g"),
            "auto.offset.reset": "earliest",
        }
    )
    messages = _consume(consumer, topic, len(sent))

    assert len(messages) == len(sent)
    for message, expected in zip(messages, sent, strict=True):
        raw = message.value()
        # Confluent wire format: magic byte 0, then the registry's schema id, big-endian.
        assert raw[0] == 0
        assert int.from_bytes(raw[1:5], "big") == registered.schema_id
        assert message.key() == expected["id"].encode()
        received = deserialize(raw, context)
        for field, value in expected.items():
            assert received[field] == value, field
        assert set(received) == set(expected)


def test_registry_enforces_backward_compatibility(kafka_stack, unique_name):
    registry = SchemaRegistryClient({"url": kafka_stack.schema_registry_url})
    subject = f"{unique_name('s')}-value"

    first = registry.register_schema(subject, Schema(CONTACT_V1, "AVRO"))
    registry.set_compatibility(subject_name=subject, level="BACKWARD")
    assert registry.get_compatibility(subject) == "BACKWARD"

    assert registry.test_compatibility(subject, Schema(CONTACT_V2, "AVRO")) is True
    second = registry.register_schema(subject, Schema(CONTACT_V2, "AVRO"))
    assert second != first

    assert registry.test_compatibility(subject, Schema(CONTACT_V3, "AVRO")) is False
    with pytest.raises(SchemaRegistryError) as rejected:
        registry.register_schema(subject, Schema(CONTACT_V3, "AVRO"))
    assert rejected.value.http_status_code == 409
    assert registry.get_versions(subject) == [1, 2]

    # What BACKWARD buys: a v2 reader decodes a v1 record, the new field taking its default.
    context = SerializationContext(subject.removesuffix("-value"), MessageField.VALUE)
    written = AvroSerializer(registry, CONTACT_V1, conf={"auto.register.schemas": False})(
        _records()[1], context
    )
    read = AvroDeserializer(registry, CONTACT_V2)(written, context)
    assert read["region"] == "EU"
    assert read["id"] == "c-1"


def test_broker_is_kafka_4(kafka_stack, admin_client, unique_name):
    cluster = admin_client.describe_cluster(request_timeout=10).result(timeout=15)
    assert cluster.cluster_id
    assert len(cluster.nodes) == 1
    if kafka_stack.kafka_version != "unknown":
        assert kafka_stack.kafka_version.startswith("4.")

    # The broker itself says it is 4.x: the KIP-848 consumer group protocol is on by default
    # only from Kafka 4.0; an older broker rejects this consumer's heartbeat.
    topic = unique_name("t")
    _create_topic(admin_client, topic)
    producer = Producer({"bootstrap.servers": kafka_stack.bootstrap_servers})
    producer.produce(topic, value=b"hello")
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_stack.bootstrap_servers,
            "group.id": unique_name("g"),
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
        }
    )
    messages = _consume(consumer, topic, 1)
    assert [m.value() for m in messages] == [b"hello"]
