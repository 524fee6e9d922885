"""The Python murmur2 partitioner agrees with Kafka's and with librdkafka's `murmur2_random`."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from connectors.partitioning import murmur2, partition_for

# Kafka's own vectors: clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
# (testMurmur2), as signed Java ints.
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("key", "expected"), KAFKA_VECTORS.items())
def test_kafka_vectors(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected & 0xFFFFFFFF


def test_partition_is_the_positive_hash_modulo_the_count() -> None:
    assert partition_for(b"21", 1) == 0
    assert partition_for(b"21", 7) == (-973932308 & 0x7FFFFFFF) % 7
    with pytest.raises(ValueError):
        partition_for(b"21", 0)


def test_librdkafka_puts_each_key_where_partition_for_says() -> None:
    """librdkafka's in-process mock cluster (no broker): its `murmur2_random` partitioner
    places 300 keys of every length 0-40 bytes, some of them not ASCII."""
    producer = Producer({"test.mock.num.brokers": 1, "partitioner": "murmur2_random",
                         "log_level": 0})  # fmt: skip
    placed: dict[bytes, int] = {}

    def report(error: object, message: object) -> None:
        assert error is None
        placed[message.key()] = message.partition()  # type: ignore[attr-defined]

    keys = [
        f"intent-{n}-{'é' * (n % 7)}{'x' * (n % 41)}".encode()[: n % 41 + 1] for n in range(300)
    ]
    for key in keys:
        producer.produce("placement", key=key, value=b"v", on_delivery=report)
    assert producer.flush(20) == 0
    partitions = len(producer.list_topics("placement", timeout=10).topics["placement"].partitions)
    assert partitions > 1
    assert len(set(placed.values())) == partitions
    assert {key: partition_for(key, partitions) for key in placed} == placed
