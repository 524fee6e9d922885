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
    """Per topic-partition, the next offset this worker has not yet applied: every offset below
    it has been applied (or dead-lettered).

    The position moves only over contiguous offsets. Around a rebalance faust's fetch can jump
    past records, or skip one fetched in the generation before, and deliver later ones first;
    those are read again (`holes.py`), and until then the position stays at the first missing
    offset, so an intent is never held against opt-outs that were not applied (the handover test
    found intents allowed after an acknowledged opt-out the fetch had skipped). Records applied
    beyond the position are kept (`AHEAD_LIMIT` at most per partition) and counted once the gap
    fills.

    A partition whose position is unknown (not seen since assignment) starts from the committed
    offset, which faust guarantees was fully applied before it was committed: `committed(tp)`
    (faust's map, no request) when an agent first applies a record, else `seed` (the hold asks
    the broker). A later committed offset may always move a position forward (`seed`).
    A reader that reads its partition in order on its own consumer (the agreements view, on a
    compacted topic where offsets legitimately skip) uses `advance_to`.

    The app keeps a second instance over the acknowledgements it released: the ceiling of every
    commit (`faust_compat.commit_no_hole`, `at_least`).
    """

    AHEAD_LIMIT = 100_000

    def __init__(self, committed: Callable[[TopicPartition], int | None] | None = None) -> None:
        self._next: dict[TopicPartition, int] = {}
        self._ahead: dict[TopicPartition, set[int]] = {}
        self._committed = committed
        self._changed = asyncio.Event()
        self._waited = False  # someone awaits `changed`: a move must wake them

    def position(self, tp: TopicPartition) -> int | None:
        return self._next.get(tp)

    def seed(self, tp: TopicPartition, offset: int) -> None:
        """Everything below `offset` is applied (a committed offset): the position is at least
        that, and moves on over what was applied beyond it."""
        current = self._next.get(tp)
        if current is None or offset > current:
            self._next[tp] = offset
            ahead = self._ahead.get(tp)
            if ahead:  # what was applied below the new position no longer waits for a gap
                ahead.difference_update([o for o in ahead if o < offset])
            self._catch_up(tp)
            self._wake()

    def at_least(self, tp: TopicPartition, offset: int) -> int:
        """`seed` with `offset`, then the position: the first offset from `offset` on that was
        not handled."""
        self.seed(tp, offset)
        return self._next[tp]

    def advance(self, tp: TopicPartition, offset: int) -> None:
        """Record that the record at `offset` has been handled."""
        current = self._next.get(tp)
        if current is None and self._committed is not None:
            committed = self._committed(tp)
            if committed is not None:
                self.seed(tp, committed)
                current = self._next[tp]
        if current is not None and offset < current:
            return  # read again: already counted
        if current is not None and offset == current:
            self._next[tp] = offset + 1
            self._catch_up(tp)
            self._wake()
            return
        ahead = self._ahead.setdefault(tp, set())
        if len(ahead) >= self.AHEAD_LIMIT:
            ahead.clear()  # the position stays behind (holds deny, never allow) until a seed
        ahead.add(offset)

    def advance_to(self, tp: TopicPartition, next_offset: int) -> None:
        """An in-order reader has read everything below `next_offset`."""
        if next_offset > self._next.get(tp, -1):
            self._next[tp] = next_offset
            self._wake()

    def _catch_up(self, tp: TopicPartition) -> None:
        ahead = self._ahead.get(tp)
        if not ahead:
            return
        position = self._next[tp]
        while position in ahead:
            ahead.discard(position)
            position += 1
        self._next[tp] = position
        if not ahead:
            del self._ahead[tp]

    def reseed(self, tps: Iterable[TopicPartition]) -> None:
        """Move each of `tps` up to its committed offset where that is further (unknown since
        the assignment, or left behind by a gap that a re-read filled and the commit passed)."""
        if self._committed is None:
            return
        for tp in tps:
            committed = self._committed(tp)
            if committed is not None:
                self.seed(tp, committed)

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Drop partitions this worker no longer owns (after a rebalance)."""
        for tp in tps:
            self._next.pop(tp, None)
            self._ahead.pop(tp, None)

    def _wake(self) -> None:
        if self._waited:  # a new event only when someone waits: this runs once per record
            self._waited = False
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
        self._waited = True
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
        if behind:
            self.positions.reseed(tp for tp, _, _ in behind)
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
            self.positions.reseed(tp for tp, _, _ in behind)  # the commit may have moved on
            behind = self.positions.lagging(required)
        return HoldResult(True, time.perf_counter() - started)
