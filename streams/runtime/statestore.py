"""The consent table, written once per batch.

faust writes a changelog record and a RocksDB put for every table assignment, through its
pure-Python producer path. The gate instead keeps a batch's writes in memory (later writes to one
key replace earlier ones; reads see them), and at the end of the batch writes one RocksDB write
batch per partition and one changelog record per changed key, through the same producer as the
batch's other outputs. The changelog records count towards the batch, so the batch's inputs are
acknowledged only once the state they produced is durable.

One writer per changelog partition: every table write of the worker goes through this store (the
consent, opt-out and intent agents share it), so Kafka keeps the writes to one key in order and a
rebuild from the changelog ends at the latest value.

faust still owns the table: the changelog topic, partition assignment, standby replicas and
recovery. The offsets of delivered changelog records are saved as faust's persisted offsets, so a
restart replays only what came after them, recorded at most every PERSIST_EVERY_S (each is a
RocksDB put per partition: about 50 µs, 2.5% of the main thread in a live run when recorded after
every batch). An offset recorded late only makes a rebuild replay a little more: the values it
covers were written to RocksDB at the flush, before their changelog records were sent.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, MutableMapping
from typing import Any, Final, Protocol

from streams.runtime import faust_compat
from streams.runtime.outputs import Outputs

PERSIST_EVERY_S: Final = 1.0


class StateStore(Protocol):
    def get(self, partition: int, key: bytes) -> bytes | None: ...

    def put(self, partition: int, key: bytes, value: bytes) -> None: ...


class MappingStore:
    """A plain mapping as the store (the benchmark's seeding, unit tests): no partitions."""

    def __init__(self, mapping: MutableMapping[bytes, bytes]) -> None:
        self.mapping = mapping

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.mapping.get(key)

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.mapping[key] = value


class WriteBehindStore:
    """A faust table's store, written per batch (see the module docstring)."""

    def __init__(
        self, table: Any, outputs: Outputs, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.table = table
        self.outputs = outputs
        self._pending: dict[bytes, tuple[int, bytes | None]] = {}
        self._delivered: dict[int, int] = {}
        self._clock = clock
        self._persisted_at = -math.inf

    def get(self, partition: int, key: bytes) -> bytes | None:
        hit = self._pending.get(key)
        if hit is not None:
            return hit[1]
        db = faust_compat.partition_db(self.table, partition)
        if db is not None:
            value: bytes | None = db.get(key)
            return value
        found: bytes | None = self.table.data.get(key)
        return found

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self._pending[key] = (partition, value)

    def delete(self, partition: int, key: bytes) -> None:
        """Remove `key` (erasure): gone locally and a tombstone in the changelog at the flush,
        so compaction removes the value and a rebuild from the changelog never sees it."""
        self._pending[key] = (partition, None)

    def flush(self) -> int:
        """Write the batch's changes locally and queue their changelog records; returns how
        many keys changed. Call inside the outputs' batch, with no await since the writes."""
        if not self._pending:
            return 0
        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = defaultdict(list)
        for key, (partition, value) in self._pending.items():
            by_partition[partition].append((key, value))
        changed = len(self._pending)
        self._pending.clear()
        changelog = faust_compat.changelog_topic_name(self.table)
        for partition, items in by_partition.items():
            faust_compat.write_partition(self.table, partition, items)
            for key, value in items:
                self.outputs.send_to(changelog, partition, key, value, self._on_offset)
        return changed

    def _on_offset(self, partition: int, offset: int) -> None:
        if offset > self._delivered.get(partition, -1):
            self._delivered[partition] = offset

    def persist_offsets(self, force: bool = False) -> None:
        """Record the delivered changelog offsets as faust's persisted offsets (event loop): at
        most every PERSIST_EVERY_S unless `force` (module doc)."""
        if not self._delivered:
            return
        now = self._clock()
        if not force and now - self._persisted_at < PERSIST_EVERY_S:
            return
        self._persisted_at = now
        delivered, self._delivered = self._delivered, {}
        for partition, offset in delivered.items():
            faust_compat.persist_changelog_offset(self.table, partition, offset)

    def discard(self) -> None:
        """Drop unflushed writes (an agent failed mid-batch: its inputs will be redone)."""
        self._pending.clear()
