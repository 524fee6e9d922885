"""Read your opt-outs: hold an intent until the state it must see has been applied.

Kafka orders records within a partition, not across topics, and a worker fetches its consent,
opt-out and intent partitions in whatever order the fetcher returns them. The contract still
promises that an opt-out acknowledged before an intent was produced is applied when the intent is
decided.

The mechanism is exact and clock-free. After a batch of intents has been *read*, every record that
was acknowledged before those intents were produced sits below the current end offset (high
watermark) of its partition, because producers use `acks=all`. So before deciding, we ask the
broker for the end offsets of the co-partitioned consent and opt-out partitions (one request per
batch), and wait until this worker has applied everything below them. The wait is bounded; an
intent whose state cannot be brought up to date in time is denied (fail closed), never allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

TopicPartition = tuple[str, int]
EndOffsets = Callable[[list[TopicPartition]], Awaitable[Mapping[TopicPartition, int]]]


@dataclass(frozen=True, slots=True)
class HoldResult:
    """How a hold ended: whether the state caught up, and how long it took."""

    caught_up: bool
    waited_s: float
    behind: tuple[tuple[TopicPartition, int, int], ...] = ()


class AppliedPositions:
    """Per topic-partition, the next offset this worker has not yet applied.

    Agents call `advance` after applying (or dead-lettering) a record; holders wait on it.
    A partition whose position is unknown has not been seen since assignment; `seed` sets it from
    the committed offset, which faust guarantees was fully applied before it was committed.
    """

    def __init__(self) -> None:
        self._next: dict[TopicPartition, int] = {}
        self._changed = asyncio.Event()

    def position(self, tp: TopicPartition) -> int | None:
        return self._next.get(tp)

    def seed(self, tp: TopicPartition, offset: int) -> None:
        current = self._next.get(tp)
        if current is None or offset > current:
            self._next[tp] = offset
            self._wake()

    def advance(self, tp: TopicPartition, offset: int) -> None:
        """Record that the record at `offset` has been handled."""
        if offset + 1 > self._next.get(tp, -1):
            self._next[tp] = offset + 1
            self._wake()

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Drop partitions this worker no longer owns (after a rebalance)."""
        for tp in tps:
            self._next.pop(tp, None)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def lagging(
        self, required: Mapping[TopicPartition, int]
    ) -> list[tuple[TopicPartition, int, int]]:
        """The partitions still below their required offset: (tp, applied, required)."""
        behind = []
        for tp, needed in required.items():
            applied = self._next.get(tp)
            if needed > 0 and (applied is None or applied < needed):
                behind.append((tp, -1 if applied is None else applied, needed))
        return behind

    async def changed(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)


class OrderingHold:
    """Waits, per batch of intents, for the co-partitioned state partitions to catch up."""

    def __init__(
        self,
        positions: AppliedPositions,
        end_offsets: EndOffsets,
        *,
        max_wait_s: float,
        seed_positions: Callable[[list[TopicPartition]], Awaitable[Mapping[TopicPartition, int]]]
        | None = None,
    ) -> None:
        self.positions = positions
        self._end_offsets = end_offsets
        self._seed_positions = seed_positions
        self.max_wait_s = max_wait_s

    async def hold(self, state_partitions: list[TopicPartition]) -> HoldResult:
        """Wait until every partition in `state_partitions` is applied up to its end offset now."""
        started = time.perf_counter()
        if not state_partitions:
            return HoldResult(True, 0.0)
        required = dict(await self._end_offsets(state_partitions))
        behind = self.positions.lagging(required)
        if behind and self._seed_positions is not None:
            unknown = [tp for tp, applied, _ in behind if applied < 0]
            if unknown:
                for tp, offset in (await self._seed_positions(unknown)).items():
                    self.positions.seed(tp, offset)
                behind = self.positions.lagging(required)
        deadline = started + self.max_wait_s
        while behind:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return HoldResult(False, time.perf_counter() - started, tuple(behind))
            await self.positions.changed(min(remaining, 0.05))
            behind = self.positions.lagging(required)
        return HoldResult(True, time.perf_counter() - started)
