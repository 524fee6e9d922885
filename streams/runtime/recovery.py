"""Cold recovery in bulk: the consent table loaded from its changelog before faust starts.

faust replays a changelog record by record through its whole event path (fetch, conductor,
queue, one `wait_for` per record): about 10,000 records/s on this machine, so a million-record
table took 100 s to rebuild. Before the worker starts, this loader reads each changelog partition
from after the offset the local store already has, with a librdkafka consumer, and writes it into
the partition's RocksDB database in write batches. It then records the last offset it wrote as
faust's persisted offset, so faust's own recovery replays only what arrives after that.

Safe to run on partitions this worker will not own: a RocksDB database holds exactly a prefix of
its changelog plus the persisted offset that says where the prefix ends, which is the state faust
itself leaves in a standby. Only the RocksDB store can be loaded; other stores are left to faust.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from streams.kafka_config import client_config
from streams.runtime import faust_compat
from streams.settings import Settings

log = logging.getLogger(__name__)

CONSUME_BATCH = 10_000
POLL_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class LoadReport:
    records: int
    partitions: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def load_changelog(settings: Settings, table: Any) -> LoadReport:
    """Bring every local partition database of `table` up to its changelog's end."""
    started = time.monotonic()
    if faust_compat.partition_db(table, 0) is None:
        return LoadReport(0, 0, 0.0)
    from confluent_kafka import Consumer, TopicPartition

    topic = faust_compat.changelog_topic_name(table)
    consumer = Consumer(
        client_config(
            settings,
            **{
                "group.id": f"{settings.app_id}-changelog-loader",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                "fetch.max.bytes": 64 * 1024 * 1024,
                "max.partition.fetch.bytes": 16 * 1024 * 1024,
            },
        )
    )
    records = partitions_loaded = 0
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return LoadReport(0, 0, time.monotonic() - started)
        for partition in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
            persisted = faust_compat.persisted_changelog_offset(table, partition)
            start = max(low, (persisted + 1) if persisted is not None else low)
            if start >= high:
                continue
            records += _load_partition(consumer, table, topic, partition, start, high)
            partitions_loaded += 1
    finally:
        consumer.close()
    report = LoadReport(records, partitions_loaded, time.monotonic() - started)
    if records:
        log.info(
            "loaded %d changelog records into %d partitions in %.1fs (%.0f/s)",
            report.records,
            report.partitions,
            report.seconds,
            report.per_second,
        )
    return report


def _load_partition(
    consumer: Any, table: Any, topic: str, partition: int, start: int, end: int
) -> int:
    """Read [start, end) of one changelog partition into its database; returns records read."""
    import rocksdict
    from confluent_kafka import TopicPartition

    db = faust_compat.partition_db(table, partition)
    assert db is not None, "load_changelog checks the store first"
    here = TopicPartition(topic, partition)
    consumer.assign([TopicPartition(topic, partition, start)])
    loaded, last = 0, start - 1
    while last < end - 1:
        # consume() waits its whole timeout for a full batch: never ask for more than is left
        messages = consumer.consume(min(CONSUME_BATCH, end - 1 - last), POLL_TIMEOUT_S)
        if not messages:
            if consumer.position([here])[0].offset >= end:  # the rest was compacted away
                break
            continue
        batch = rocksdict.WriteBatch(raw_mode=True)
        for message in messages:
            if message.error() is not None:
                raise RuntimeError(f"reading {topic}[{partition}]: {message.error()}")
            key, value = message.key(), message.value()
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
            last = message.offset()
        db.write(batch)
        loaded += len(messages)
        faust_compat.persist_changelog_offset(table, partition, last)
    consumer.unassign()
    return loaded
