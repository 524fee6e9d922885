"""Acknowledgements released in take order, never across a rebalance (streams/runtime/acks.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.runtime.acks import AckOrder


@dataclass
class FakeMessage:
    offset: int
    generation_id: int | None = 1
    topic: str = "send-intents"
    partition: int = 0


@dataclass(eq=False)
class FakeEvent:
    message: FakeMessage
    acked: list[int] = field(default_factory=list)

    def ack(self) -> bool:
        self.acked.append(self.message.offset)
        return True


class Clock:
    generation: int | None = 1


def batch(offsets: range, generation: int | None = 1) -> list[FakeEvent]:
    return [FakeEvent(FakeMessage(o, generation)) for o in offsets]


def acked(*batches: list[FakeEvent]) -> list[int]:
    return [o for b in batches for e in b for o in e.acked]


def order(clock: Clock | None = None, stale: list[int] | None = None) -> AckOrder:
    clock = clock or Clock()
    return AckOrder(
        lambda: clock.generation,
        lambda event: event.message.generation_id,
        on_stale=None if stale is None else stale.append,
    )


def test_a_batch_completed_early_waits_for_the_batches_taken_before_it() -> None:
    acks = order()
    first, second, third = batch(range(0, 3)), batch(range(3, 6)), batch(range(6, 9))
    for b in (first, second, third):
        acks.taken("intent", b)
    acks.completed(second)
    acks.completed(third)
    assert acked(first, second, third) == []  # offsets 3-8 durable, 0-2 not yet: nothing
    assert acks.waiting("intent") == 3
    acks.completed(first)
    assert acked(first, second, third) == list(range(9))
    assert acks.waiting("intent") == 0


def test_agents_wait_only_for_their_own_batches() -> None:
    acks = order()
    intents, consents = batch(range(0, 2)), batch(range(0, 2))
    acks.taken("intent", intents)
    acks.taken("consent", consents)
    acks.completed(consents)
    assert acked(consents) == [0, 1] and acked(intents) == []


def test_a_batch_handled_again_after_a_retry_keeps_its_place() -> None:
    acks = order()
    first, second = batch(range(0, 2)), batch(range(2, 4))
    acks.taken("intent", first)
    acks.taken("intent", second)
    acks.taken("intent", first)  # the registry wait: the same batch, handled again
    acks.completed(second)
    assert acked(second) == []
    acks.completed(first)
    assert acked(first, second) == [0, 1, 2, 3]


def test_events_fetched_before_a_rebalance_are_not_acknowledged() -> None:
    clock, stale = Clock(), list[int]()
    acks = order(clock, stale)
    old, mixed = batch(range(0, 3), generation=1), batch(range(3, 5), generation=1)
    mixed.append(FakeEvent(FakeMessage(5, generation_id=2)))
    acks.taken("intent", old)
    acks.taken("intent", mixed)
    clock.generation = 2  # the group rebalanced while both were in flight
    acks.completed(old)
    acks.completed(mixed)
    assert acked(old, mixed) == [5]
    assert stale == [3, 2]


def test_an_unknown_generation_is_acknowledged() -> None:
    clock = Clock()
    clock.generation = None
    acks = order(clock)
    events = batch(range(0, 2), generation=4)
    acks.taken("intent", events)
    acks.completed(events)
    assert acked(events) == [0, 1]
    untagged = batch(range(2, 4), generation=None)
    acks.completed(untagged)  # never taken through an ordered agent: acknowledged at once
    assert acked(untagged) == [2, 3]


def test_releasing_is_set_only_while_acknowledging() -> None:
    acks = order()
    seen: list[bool] = []
    events = batch(range(0, 2))
    for event in events:
        event.ack = lambda: seen.append(acks.releasing)  # type: ignore[method-assign]
    acks.taken("intent", events)
    assert acks.releasing is False
    acks.completed(events)
    assert seen == [True, True] and acks.releasing is False


def test_an_offset_read_again_is_followed_through_take_and_acknowledgement(caplog) -> None:
    clock = Clock()
    acks = order(clock, stale=[])
    acks.watched = {("send-intents", 0): 898}
    followed: list[tuple[tuple[str, int], int, str]] = []
    acks.on_followed = lambda tp, offset, outcome: followed.append((tp, offset, outcome))
    caplog.set_level("WARNING", logger="streams.runtime.acks")
    fresh, old = batch(range(897, 900)), batch(range(898, 899), generation=0)
    other = [FakeEvent(FakeMessage(898, partition=1))]  # another partition's offset 898
    for b in (fresh, old, other):
        acks.taken("intent", b)
        acks.completed(b)
    acks.refused(FakeMessage(898))
    acks.refused(None)  # faust gave no message: counted, nothing to follow
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5 and all(line.startswith("send-intents[0]: offset 898") for line in lines)
    assert "taken by the intent agent" in lines[0]
    assert "acknowledged (counted)" in lines[1] and "generation 1, now 1" in lines[1]
    assert "fetched before a rebalance" in lines[3] and "generation 0" in lines[3]
    assert "was refused" in lines[4]
    outcomes = [outcome for _, _, outcome in followed]
    assert outcomes == ["taken", "counted", "taken", "not counted", "not counted"]
    assert {(tp, offset) for tp, offset, _ in followed} == {(("send-intents", 0), 898)}


def test_only_acknowledgements_faust_counted_are_reported_as_released() -> None:
    clock = Clock()
    acks = order(clock)
    counted: list[int] = []
    acks.on_counted = lambda message: counted.append(message.offset)
    current = batch(range(10, 13))
    current[1].ack = lambda: False  # type: ignore[method-assign]  # faust: already counted
    stale = batch(range(13, 15), generation=1)
    acks.taken("intent", current)
    acks.taken("intent", stale)
    acks.completed(current)
    clock.generation = 2
    acks.completed(stale)  # fetched before the rebalance: not acknowledged, not released
    assert counted == [10, 12]
