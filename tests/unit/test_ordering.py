"""Read your opt-outs: applied positions move only over what was applied (runtime/ordering.py).

The handover test found intents allowed after an acknowledged opt-out: faust's fetch had jumped
past the opt-out at a rebalance, the agent applied the records after it, and the position moved
to the end, so the hold let the intents through. These pin the contiguous positions down.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from streams.runtime.ordering import AppliedPositions, OrderingHold, TopicPartition

TP: TopicPartition = ("optout-events", 0)


def test_the_position_moves_over_contiguous_offsets_only() -> None:
    positions = AppliedPositions()
    positions.seed(TP, 10)
    for offset in (10, 11):
        positions.advance(TP, offset)
    assert positions.position(TP) == 12
    for offset in (14, 15):  # the fetch jumped past 12 and 13
        positions.advance(TP, offset)
    assert positions.position(TP) == 12
    positions.advance(TP, 12)
    assert positions.position(TP) == 13
    positions.advance(TP, 13)  # the gap fills: what was applied beyond it counts now
    assert positions.position(TP) == 16
    positions.advance(TP, 14)  # read again: already counted
    assert positions.position(TP) == 16


def test_an_unknown_partition_starts_from_the_committed_offset_never_from_a_record() -> None:
    committed: dict[TopicPartition, int] = {}
    positions = AppliedPositions(committed=committed.get)
    positions.advance(TP, 24)  # offset 23 was skipped: 24 arrives first, nothing committed known
    assert positions.position(TP) is None
    committed[TP] = 23
    positions.advance(TP, 25)
    assert positions.position(TP) == 23  # 23 is not applied: 24 and 25 wait beyond it
    positions.advance(TP, 23)
    assert positions.position(TP) == 26


def test_a_seed_counts_what_was_applied_before_it() -> None:
    positions = AppliedPositions()
    for offset in (5, 6, 8):
        positions.advance(TP, offset)
    positions.seed(TP, 5)
    assert positions.position(TP) == 7
    positions.seed(TP, 3)  # an older commit never moves it back
    assert positions.position(TP) == 7


def test_reseed_moves_up_to_a_later_commit() -> None:
    committed = {TP: 10}
    positions = AppliedPositions(committed=committed.get)
    positions.advance(TP, 10)
    positions.advance(TP, 12)
    assert positions.position(TP) == 11
    committed[TP] = 20  # the gap was read again elsewhere and the commit passed it
    positions.reseed([TP, ("consent-events", 0)])
    assert positions.position(TP) == 20
    assert positions.position(("consent-events", 0)) is None


def test_an_in_order_reader_moves_the_position_over_compacted_offsets() -> None:
    positions = AppliedPositions()
    positions.advance_to(("partner-agreements", 0), 7)
    positions.advance_to(("partner-agreements", 0), 3)
    assert positions.position(("partner-agreements", 0)) == 7


def test_too_much_applied_beyond_a_gap_is_dropped_and_the_position_stays(monkeypatch) -> None:
    monkeypatch.setattr(AppliedPositions, "AHEAD_LIMIT", 3)
    positions = AppliedPositions()
    positions.seed(TP, 0)
    for offset in range(2, 8):
        positions.advance(TP, offset)
    positions.advance(TP, 0)
    positions.advance(TP, 1)
    assert positions.position(TP) == 2  # fail closed: behind, so holds deny until a seed
    positions.forget([TP])
    assert positions.position(TP) is None


def _ends(ends: Mapping[TopicPartition, int]):  # type: ignore[no-untyped-def]
    async def end_offsets(tps: list[TopicPartition]) -> Mapping[TopicPartition, int]:
        return {tp: ends[tp] for tp in tps}

    return end_offsets


async def test_the_hold_does_not_pass_a_gap() -> None:
    committed = {TP: 10}
    positions = AppliedPositions(committed=committed.get)
    for offset in (10, 12, 13):  # 11 skipped by the fetch
        positions.advance(TP, offset)
    hold = OrderingHold(positions, _ends({TP: 14}), max_wait_s=0.2)
    result = await hold.hold([TP])
    assert not result.caught_up and result.behind == ((TP, 11, 14),)
    positions.advance(TP, 11)  # read again
    assert (await hold.hold([TP])).caught_up


async def test_the_hold_takes_a_commit_that_passed_the_position() -> None:
    committed = {TP: 10}
    positions = AppliedPositions(committed=committed.get)
    positions.advance(TP, 10)
    hold = OrderingHold(positions, _ends({TP: 30}), max_wait_s=0.2)
    assert not (await hold.hold([TP])).caught_up
    committed[TP] = 30
    assert (await hold.hold([TP])).caught_up


@pytest.mark.parametrize("ends", [{TP: 0}, {}])
async def test_an_empty_partition_or_no_partition_holds_nothing(ends) -> None:  # type: ignore[no-untyped-def]
    hold = OrderingHold(AppliedPositions(), _ends({TP: 0}), max_wait_s=0.2)
    assert (await hold.hold([TP] if ends else [])).caught_up
