"""When to read a partition again from an offset nobody acknowledged (issue 13).

A message faust skipped around a rebalance leaves a hole the commit waits at (`acks.py`); the
app finds it (`faust_compat.unacknowledged_heads`) and reads the partition again from there
(`faust_compat.read_again_from`). Reading again is not instant: the records the stream had
already queued come first, and a batch of intents may wait for its state partitions, so the
record read again can take tens of seconds to reach its agent (the handover test saw 20 to 60 s).
Reading again before it arrives only queues the same records once more. So an offset is read
again once it has waited unacknowledged at the head for `confirm_s`, then again only
once the record has come back without being counted (fetched before a rebalance, or its
acknowledgement refused) or `patience_s` has passed without it coming back, at most `max_reads`
times; after that the commit waits there (the lag alert fires) and a restart reads the partition
from it. Pure: the app feeds it what the consumer and `AckOrder` report.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)  # a partition: faust's TP in the app

# What AckOrder reports of a record read again (AckOrder._follow).
TAKEN, COUNTED, NOT_COUNTED = "taken", "counted", "not counted"


@dataclass(slots=True)
class _Reads:
    count: int = 0
    last_at: float = 0.0
    retry_now: bool = False  # came back and was not counted: read again at the next check


@dataclass(frozen=True, slots=True)
class HoleCheck(Generic[K]):
    """One check's outcome: offsets to read again now, offsets given up, offsets now decided."""

    read_again: tuple[tuple[K, int], ...] = ()
    given_up: tuple[tuple[K, int], ...] = ()
    decided: tuple[tuple[K, int], ...] = ()


class HoleRepair(Generic[K]):
    def __init__(
        self, *, confirm_s: float = 10.0, patience_s: float = 30.0, max_reads: int = 3
    ) -> None:
        self.confirm_s = confirm_s
        self.patience_s = patience_s
        self.max_reads = max_reads
        self._since: dict[K, tuple[int, float]] = {}  # partition -> (head, first seen at)
        self._reads: dict[tuple[K, int], _Reads] = {}

    def followed(self, tp: K, offset: int, outcome: str) -> None:
        """What became of a record read again: TAKEN by an agent, then COUNTED or NOT_COUNTED."""
        reads = self._reads.get((tp, offset))
        if reads is not None and outcome == NOT_COUNTED:
            reads.retry_now = True

    def rebalancing(self) -> None:
        """A rebalance resets what was seen: faust seeks every assigned partition anyway."""
        self._since.clear()

    def check(self, heads: Mapping[K, int], now: float) -> HoleCheck[K]:
        """`heads`: {partition: the offset its commit waits at, unacknowledged}."""
        read_again: list[tuple[K, int]] = []
        given_up: list[tuple[K, int]] = []
        since: dict[K, tuple[int, float]] = {}
        for tp, offset in heads.items():
            seen = self._since.get(tp)
            since[tp] = seen if seen is not None and seen[0] == offset else (offset, now)
        self._since = since
        for tp, offset in heads.items():
            if now - since[tp][1] < self.confirm_s:
                continue  # new, or moving: maybe a record still on its way, not a hole yet
            reads = self._reads.setdefault((tp, offset), _Reads())
            if reads.count > self.max_reads:
                continue  # given up, and said so
            if reads.count and not (reads.retry_now or now - reads.last_at >= self.patience_s):
                continue  # on its way, or taken and its batch still running
            if reads.count == self.max_reads:
                reads.count += 1
                given_up.append((tp, offset))
                continue
            reads.count += 1
            reads.last_at = now
            reads.retry_now = False
            read_again.append((tp, offset))
        decided = tuple(key for key in self._reads if heads.get(key[0]) != key[1])
        for key in decided:
            del self._reads[key]
        return HoleCheck(tuple(read_again), tuple(given_up), decided)

    def watching(self) -> dict[K, int]:
        """{partition: offset} read again and not yet decided (for AckOrder to follow)."""
        return {tp: offset for tp, offset in self._reads}
