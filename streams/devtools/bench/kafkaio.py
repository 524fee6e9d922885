"""Reading and writing Kafka for the benchmark: throwaway consumers, end offsets, reading a range
back, waiting for verdicts, and moving a consumer group's committed offsets.

Every reader joins no group (a fresh group id, no commits) so that it never disturbs the gate's.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from streams import topics
from streams.devtools.bench.errors import BenchError


@dataclass(slots=True)
class Record:
    key: bytes
    timestamp_ms: int
    value: bytes


def consumer(bootstrap: str, **extra: Any) -> Any:
    """A consumer of its own throwaway group: reads from the beginning, commits nothing."""
    from confluent_kafka import Consumer

    config = {
        "bootstrap.servers": bootstrap,
        "group.id": f"bench-reader-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "log_level": 3,
    }
    config.update(extra)
    return Consumer(config)


def assigned(bootstrap: str, topic: str, start: dict[int, int], **extra: Any) -> Any:
    """A throwaway consumer assigned to `topic` from the offsets `start`."""
    from confluent_kafka import TopicPartition

    reader = consumer(bootstrap, **extra)
    reader.assign([TopicPartition(topic, p, offset) for p, offset in start.items()])
    return reader


def partitions_of(reader: Any, topic: str) -> list[int]:
    metadata = reader.list_topics(topic, timeout=10)
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        raise BenchError(f"topic {topic} not found")
    return sorted(described.partitions)


def end_offsets(reader: Any, topic: str) -> dict[int, int]:
    from confluent_kafka import TopicPartition

    return {
        p: int(reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
        for p in partitions_of(reader, topic)
    }


def topic_end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    reader = consumer(bootstrap)
    try:
        return end_offsets(reader, topic)
    finally:
        reader.close()


def produce(producer: Any, topic: str, value: bytes, key: bytes, pause: float = 0.05) -> None:
    """Produce without waiting for the ack; when the local queue is full, serve it and retry."""
    while True:
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:
            producer.poll(pause)


def read_range(
    bootstrap: str,
    topic: str,
    start: dict[int, int] | None,
    stop: dict[int, int],
    timeout: float = 300.0,
) -> list[Record]:
    """Every record of `topic` from `start` (default: the beginning) up to `stop`, exclusive."""
    from confluent_kafka import OFFSET_BEGINNING

    start = start or {}
    wanted = {p: end for p, end in stop.items() if end > start.get(p, 0)}
    first = {p: start.get(p, OFFSET_BEGINNING) for p in wanted}
    reader = assigned(bootstrap, topic, first, **{"fetch.max.bytes": 64 * 1024 * 1024})
    try:
        found: list[Record] = []
        deadline = time.monotonic() + timeout
        while wanted:
            if time.monotonic() > deadline:
                raise BenchError(f"{topic}: records missing below {wanted} after {timeout:g}s")
            for message in reader.consume(5000, 0.5):
                if message.error():
                    continue
                partition, offset = message.partition(), message.offset()
                end = wanted.get(partition)
                if end is None or offset >= end:
                    continue
                found.append(Record(message.key() or b"", message.timestamp()[1], message.value()))
                if offset + 1 >= end:
                    del wanted[partition]
        return found
    finally:
        reader.close()


def read_new(bootstrap: str, topic: str, start: dict[int, int] | None) -> list[Record]:
    """What `topic` holds from `start` (default: the beginning) to its current end."""
    return read_range(bootstrap, topic, start, topic_end_offsets(bootstrap, topic))


def collect_stamps(
    bootstrap: str, topic: str, start: dict[int, int], wanted: set[str], timeout: float
) -> dict[str, int]:
    """Broker timestamps of the records of `topic` whose keys are `wanted`, read from `start`."""
    found: dict[str, int] = {}
    reader = assigned(bootstrap, topic, start)
    try:
        deadline = time.monotonic() + timeout
        while len(found) < len(wanted):
            if time.monotonic() > deadline:
                missing = len(wanted) - len(found)
                raise BenchError(f"{missing} verdicts missing after {timeout:g}s")
            for message in reader.consume(5000, 0.5):
                if message.error():
                    continue
                key = (message.key() or b"").decode()
                if key in wanted:
                    found[key] = message.timestamp()[1]
    finally:
        reader.close()
    return found


def await_verdict(reader: Any, codec: Any, intent_id: str, timeout: float) -> dict[str, Any]:
    """The next verdict for `intent_id` on an assigned verdicts reader, decoded."""
    wanted = intent_id.encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = reader.poll(0.1)
        if message is None or message.error():
            continue
        if message.key() == wanted:
            decoded: dict[str, Any] = codec.decode(topics.VERDICTS, message.value())
            return decoded
    raise BenchError(f"no verdict for {intent_id} within {timeout:g}s")


class GroupWatcher:
    """Committed offsets of a consumer group, without joining it."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self._consumer = consumer(bootstrap, **{"group.id": group})

    def behind(self, names: list[str]) -> int:
        """Records of `names` the group has not committed yet."""
        from confluent_kafka import TopicPartition

        behind = 0
        for topic in names:
            ends = end_offsets(self._consumer, topic)
            committed = self._consumer.committed(
                [TopicPartition(topic, p) for p in ends], timeout=10
            )
            for tp in committed:
                done = tp.offset if tp.offset >= 0 else 0
                behind += max(0, ends[tp.partition] - done)
        return behind

    def close(self) -> None:
        self._consumer.close()


def commit_group_at_end(bootstrap: str, group: str, names: list[str]) -> None:
    """Set the (empty) group's committed offsets of `names` to the topics' ends."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    offsets = [
        TopicPartition(topic, p, end)
        for topic in names
        for p, end in topic_end_offsets(bootstrap, topic).items()
    ]
    last: Exception | None = None
    for _ in range(60):  # a member that just left can take a moment to be gone
        try:
            futures = admin.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group, offsets)]
            )
            for future in futures.values():
                future.result()
            return
        except Exception as exc:
            last = exc
            time.sleep(0.5)
    raise BenchError(f"could not commit {group} at the end of {names}: {last}")
