"""Partner agreements as a global view: every worker holds every party's latest agreement.

A worker decides intents from any sender, so it needs all agreements, not just its partitions'.
Rather than faust's GlobalTable (a second, changelog hop between an acknowledged revocation and
its visibility, and no position to wait on), each worker follows the compacted
`partner-agreements` topic itself with a group-less consumer from the beginning. Its positions
feed read-your-opt-outs: an intent waits until every revocation acknowledged before it is applied.

The same group-less consumer answers the end-offset queries of `OrderingHold`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition as KafkaTP

from streams import topics
from streams.kafka_config import aiokafka_security_kwargs
from streams.policy.records import InvalidRecord, PartnerRecord, parse_record
from streams.policy.state import Agreements
from streams.runtime.ordering import AppliedPositions, TopicPartition
from streams.serdes import DecodeError, WireCodec
from streams.settings import Settings

log = logging.getLogger(__name__)


class AgreementsView:
    """Follows the partner-agreements topic; `current` is the latest state of all agreements."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        partition_count: int,
        codec: WireCodec,
        positions: AppliedPositions,
    ) -> None:
        self._settings = settings
        self._topic = topic
        # Known from start-up, so intents wait for the view before it has even begun to read.
        self._partitions: list[TopicPartition] = [(topic, p) for p in range(partition_count)]
        self._codec = codec
        self._positions = positions
        self.current = Agreements()
        self._consumer: AIOKafkaConsumer | None = None
        # Offset lookups get a client of their own: on the follower's connection they would queue
        # behind its long-polling fetch and wait up to fetch_max_wait_ms each time.
        self._offsets: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._started = asyncio.Event()

    def partitions(self) -> list[TopicPartition]:
        return list(self._partitions)

    async def _ensure_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._settings.kafka_bootstrap_servers,
                **aiokafka_security_kwargs(self._settings),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_uncommitted",
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def _ensure_offsets_client(self) -> AIOKafkaConsumer:
        if self._offsets is None:
            client = AIOKafkaConsumer(
                bootstrap_servers=self._settings.kafka_bootstrap_servers,
                **aiokafka_security_kwargs(self._settings),
                group_id=None,
                enable_auto_commit=False,
            )
            await client.start()
            self._offsets = client
        return self._offsets

    async def end_offsets(self, tps: list[TopicPartition]) -> Mapping[TopicPartition, int]:
        consumer = await self._ensure_offsets_client()
        found = await consumer.end_offsets([KafkaTP(t, p) for t, p in tps])
        return {(tp.topic, tp.partition): offset for tp, offset in found.items()}

    async def beginning_offsets(self, tps: list[TopicPartition]) -> Mapping[TopicPartition, int]:
        consumer = await self._ensure_offsets_client()
        found = await consumer.beginning_offsets([KafkaTP(t, p) for t, p in tps])
        return {(tp.topic, tp.partition): offset for tp, offset in found.items()}

    async def committed_offsets(
        self, group: str, tps: list[TopicPartition]
    ) -> Mapping[TopicPartition, int]:
        """`group`'s committed offsets of `tps`, as the broker has them (none: left out)."""
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._settings.kafka_bootstrap_servers,
                **aiokafka_security_kwargs(self._settings),
            )
            await admin.start()
            self._admin = admin
        found = await self._admin.list_consumer_group_offsets(
            group, partitions=[KafkaTP(t, p) for t, p in tps]
        )
        return {
            (tp.topic, tp.partition): meta.offset for tp, meta in found.items() if meta.offset >= 0
        }

    async def start_offsets(
        self, group: str, tps: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Where `group` starts reading each of `tps`: its committed offset, or the beginning
        for a partition it never committed (it reads from the earliest)."""
        found = dict(await self.committed_offsets(group, tps))
        never = [tp for tp in tps if tp not in found]
        if never:
            found.update(await self.beginning_offsets(never))
        return found

    async def run(self) -> None:
        """Follow the topic until cancelled."""
        consumer = await self._ensure_consumer()
        assigned = [KafkaTP(topic, p) for topic, p in self._partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        for tp in assigned:
            self._positions.seed((tp.topic, tp.partition), await consumer.position(tp))
        self._started.set()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=1000)
                for tp, messages in batches.items():
                    for message in messages:
                        self.apply(message.key, message.value, message.timestamp)
                        self._positions.advance_to((tp.topic, tp.partition), message.offset + 1)
        finally:
            await self.stop()

    def apply(
        self, key: bytes | None, value: bytes | None, timestamp_ms: int | None = None
    ) -> None:
        """Apply a record; an invalid one is skipped (the partner agent dead-letters it).
        `timestamp_ms` (the broker's) is when a revocation with no readable time takes effect."""
        if value is None:
            return
        try:
            decoded = self._codec.decode(topics.PARTNER, value)
            received = (
                datetime.fromtimestamp(timestamp_ms / 1000, UTC)
                if timestamp_ms and timestamp_ms > 0
                else datetime.now(UTC)
            )
            record = parse_record(decoded, kind="partner", received_at=received)
        except (DecodeError, InvalidRecord) as exc:
            log.debug("agreements view skips an invalid record: %s", exc)
            return
        if isinstance(record, PartnerRecord):
            self.current = self.current.apply(record, received_at=received)

    async def wait_started(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._started.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def stop(self) -> None:
        for client in (self._consumer, self._offsets):
            if client is not None:
                await client.stop()
        self._consumer = self._offsets = None
        if self._admin is not None:
            admin, self._admin = self._admin, None
            await admin.close()
