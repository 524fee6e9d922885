"""The gate's own record of what it released, per partition: the ceiling of every commit.

faust decides what to commit from its own bookkeeping (acknowledged offsets, gaps, the committed
offset it knows), which it pops on a revocation and fills again from acknowledgements that
arrive while the revocation waits for the agents. The handover test still saw, in about one run
in eight, a group commit pass intents no worker had decided (issue 13), without a path through
that bookkeeping we could name. So the gate keeps its own: the offsets `AckOrder` released and
faust counted, in the current assignment. A commit never goes past the first offset of a
partition that the gate did not release since the committed offset (`commit_no_hole`), and
faust's wish to is logged, so the path shows itself if it is ever taken again.

Pure: the app feeds it releases, assignments and the committed offsets it knows.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)  # a partition: faust's TP in the app


@dataclass(slots=True)
class _Partition:
    through: int | None = None  # the first offset not released since the committed offset
    ahead: set[int] = field(default_factory=set)  # released, beyond a gap


class ReleasedOffsets(Generic[K]):
    """Released offsets per partition, as a contiguous run from the committed offset."""

    def __init__(self) -> None:
        self._parts: dict[K, _Partition] = {}

    def released(self, tp: K, offset: int) -> None:
        """The gate's release of `offset` was counted by faust."""
        part = self._parts.setdefault(tp, _Partition())
        if part.through is None or offset > part.through:
            part.ahead.add(offset)
        elif offset == part.through:
            part.through += 1
            self._absorb(part)

    def ceiling(self, tp: K, committed: int) -> int:
        """The highest offset a commit of `tp` may name, given the committed offset it knows:
        the first offset from `committed` on that the gate has not released."""
        part = self._parts.setdefault(tp, _Partition())
        if part.through is None or part.through < committed:
            part.through = committed
            part.ahead = {o for o in part.ahead if o >= committed}
        self._absorb(part)
        return part.through

    def assigned(self, tps: Iterable[K]) -> None:
        """A new assignment: what was released before it says nothing of these partitions now
        (another member may have owned them meanwhile); they start again from their committed
        offset."""
        for tp in tps:
            self._parts.pop(tp, None)

    def waiting(self, tp: K) -> int:
        """Released offsets held beyond a gap (for tests and the log)."""
        part = self._parts.get(tp)
        return len(part.ahead) if part else 0

    @staticmethod
    def _absorb(part: _Partition) -> None:
        if part.through is None:
            return
        ahead = part.ahead
        while part.through in ahead:
            ahead.remove(part.through)
            part.through += 1
