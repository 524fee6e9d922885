"""Acknowledge input events in the order they were taken, and never across a rebalance.

A batch's events are acknowledged once its outputs are durable (`outputs.py`), and outputs go to
many partitions, whose delivery reports come back in any order: batch k+1 can be durable before
batch k. faust commits the highest run of consecutive acknowledged offsets, but checks for a hole
at the head of that run only when the hole is two offsets or more, and not at all while it does
not know the committed offset (after a revocation, before the first commit). A commit could then
pass an intent that was taken but not yet decided, and a crash or a rebalance lost it: the
handover test found exactly that (issue 13). So acknowledgements are released per agent in the
order the batches were taken: what faust sees acknowledged is always a prefix of what was taken.

An event fetched in an earlier consumer generation is not acknowledged at all once the group
has rebalanced: faust re-reads its partition from the committed offset (it seeks on every
assignment), so it is decided again (the verdict memo repeats the verdict), and a late
acknowledgement cannot mix offsets of two generations in faust's bookkeeping.

And only these releases acknowledge anything. A faust stream acknowledges the messages it skips
while a rebalance stops the flow, or that were fetched in an earlier generation, although no
agent saw them; a commit then passed intents nobody decided (the handover test lost up to a
hundred that way). `faust_compat.acknowledge_only_when` makes the consumer refuse every
acknowledgement that does not come from `AckOrder`, so a skipped message stays a hole the commit
cannot pass. The seek that follows an assignment reads it again; where faust skipped it after
that seek, the app finds the hole the commit waits at and reads the partition again from it
(`app.py`, `read_holes_again`; `holes.py` says when).

Two more guards complete it: faust commits a partition only while it is assigned and its
committed offset is known (`faust_compat.commit_no_hole`, `know_committed`), and the
read-your-opt-outs positions move only over contiguous offsets (`ordering.py`), so a skipped
opt-out holds intents (denied STATE_NOT_CURRENT) instead of letting them through.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streams.runtime.holes import COUNTED, NOT_COUNTED, TAKEN

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class _Taken:
    events: Sequence[Any]
    complete: bool = False


class AckOrder:
    """Per-agent queues of taken batches; `completed` releases acknowledgements in take order.

    `generation()` is the consumer's current generation (None: unknown, e.g. faust's test
    context), `generation_of(event)` the generation the event was fetched in. `on_stale` counts
    the events not acknowledged because their generation is over."""

    def __init__(
        self,
        generation: Callable[[], int | None],
        generation_of: Callable[[Any], int | None],
        on_stale: Callable[[int], None] | None = None,
    ) -> None:
        self._generation = generation
        self._generation_of = generation_of
        self._on_stale = on_stale
        self._queues: dict[str, deque[_Taken]] = {}
        self._where: dict[int, tuple[str, _Taken]] = {}
        self.releasing = False  # true only while this releases acknowledgements
        # (topic, partition) -> the offset read again to fill a hole (holes.py): its record is
        # followed through take, acknowledgement or refusal, in the log and to `on_followed`.
        self.watched: dict[tuple[str, int], int] = {}
        self.on_followed: Callable[[tuple[str, int], int, str], None] | None = None
        # Told of every message whose release faust counted (the app's commit ceiling keeps them).
        self.on_counted: Callable[[Any], None] | None = None

    def refused(self, message: Any = None) -> None:
        """An acknowledgement that did not come from here was refused (counted as stale)."""
        self._follow(
            message, NOT_COUNTED, "its acknowledgement from outside the gate's release was refused"
        )
        if self._on_stale is not None:
            self._on_stale(1)

    def _follow(self, message: Any, outcome: str, what: str) -> None:
        if not self.watched or message is None:
            return
        key = (getattr(message, "topic", None), getattr(message, "partition", None))
        offset = self.watched.get(key)  # type: ignore[arg-type]
        if offset is None or offset != getattr(message, "offset", None):
            return
        log.warning(
            "%s[%d]: offset %d, read again to fill a hole: %s (fetched in generation %s, now %s)",
            key[0], key[1], offset, what, getattr(message, "generation_id", None),
            self._generation(),
        )  # fmt: skip
        if self.on_followed is not None:
            self.on_followed(key, offset, outcome)  # type: ignore[arg-type]

    def taken(self, agent: str, events: Sequence[Any]) -> None:
        """`events` (this very object, which `completed` will be given) was taken by `agent`."""
        if id(events) in self._where:
            return  # handled again after a retry: it keeps its place
        if self.watched:
            for event in events:
                self._follow(event.message, TAKEN, f"taken by the {agent} agent")
        entry = _Taken(events)
        self._queues.setdefault(agent, deque()).append(entry)
        self._where[id(events)] = (agent, entry)

    def completed(self, events: Sequence[Any]) -> None:
        """The batch's outputs are durable: acknowledge it and every completed batch behind it,
        as soon as every batch taken before it is acknowledged."""
        found = self._where.get(id(events))
        if found is None:  # not taken through an ordered agent: nothing to wait for
            self._acknowledge(events)
            return
        agent, entry = found
        entry.complete = True
        queue = self._queues[agent]
        while queue and queue[0].complete:
            head = queue.popleft()
            del self._where[id(head.events)]
            self._acknowledge(head.events)

    def waiting(self, agent: str) -> int:
        """Batches taken by `agent` and not yet acknowledged."""
        return len(self._queues.get(agent, ()))

    def _acknowledge(self, events: Sequence[Any]) -> None:
        current = self._generation()
        stale = 0
        self.releasing = True
        try:
            for event in events:
                fetched_in = self._generation_of(event)
                if current is not None and fetched_in is not None and fetched_in != current:
                    stale += 1
                    self._follow(
                        event.message, NOT_COUNTED, "not acknowledged: fetched before a rebalance"
                    )
                    continue
                done = event.ack()
                if done and self.on_counted is not None:
                    self.on_counted(event.message)
                if self.watched:
                    outcome = COUNTED if done else NOT_COUNTED
                    self._follow(event.message, outcome, f"acknowledged ({outcome})")
        finally:
            self.releasing = False
        if stale:
            log.info("%d events fetched before the last rebalance are left to be read again", stale)
            if self._on_stale is not None:
                self._on_stale(stale)
