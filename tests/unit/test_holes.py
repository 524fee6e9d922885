"""When an offset nobody acknowledged is read again (streams/runtime/holes.py)."""

from __future__ import annotations

from streams.runtime.holes import COUNTED, NOT_COUNTED, TAKEN, HoleRepair

TP = ("send-intents", 3)


def test_an_offset_is_read_again_once_it_waited_unacknowledged_for_confirm_s() -> None:
    repair: HoleRepair[tuple[str, int]] = HoleRepair(confirm_s=5, patience_s=30, max_reads=3)
    assert repair.check({TP: 898}, now=0).read_again == ()  # first sight: maybe in flight
    assert repair.check({TP: 899}, now=5).read_again == ()  # the commit moved: no hole
    assert repair.check({TP: 899}, now=8).read_again == ()  # 3 s at 899: not yet
    assert repair.check({TP: 899}, now=10).read_again == ((TP, 899),)
    assert repair.watching() == {TP: 899}


def test_it_is_not_read_again_while_the_record_is_on_its_way() -> None:
    repair: HoleRepair[tuple[str, int]] = HoleRepair(confirm_s=5, patience_s=30, max_reads=3)
    repair.check({TP: 898}, now=0)
    assert repair.check({TP: 898}, now=5).read_again == ((TP, 898),)
    repair.followed(TP, 898, TAKEN)  # taken by its agent; the batch still runs
    for now in (10, 15, 20, 30):
        assert repair.check({TP: 898}, now=now).read_again == ()
    assert repair.check({TP: 898}, now=35).read_again == ((TP, 898),)  # patience spent


def test_a_record_that_came_back_uncounted_is_read_again_at_the_next_check() -> None:
    repair: HoleRepair[tuple[str, int]] = HoleRepair(confirm_s=5, patience_s=30, max_reads=3)
    repair.check({TP: 898}, now=0)
    repair.check({TP: 898}, now=5)
    repair.followed(TP, 898, TAKEN)
    repair.followed(TP, 898, NOT_COUNTED)  # fetched before a rebalance, or refused
    assert repair.check({TP: 898}, now=10).read_again == ((TP, 898),)
    repair.followed(TP, 898, COUNTED)
    repair.followed(TP, 17, NOT_COUNTED)  # not followed: ignored
    assert repair.check({TP: 898}, now=15).read_again == ()


def test_after_max_reads_it_gives_up_once_and_a_decided_offset_is_forgotten() -> None:
    repair: HoleRepair[tuple[str, int]] = HoleRepair(confirm_s=5, patience_s=30, max_reads=2)
    repair.check({TP: 898}, now=0)
    reads = [repair.check({TP: 898}, now=now) for now in (5, 40, 75, 110, 145)]
    assert [len(r.read_again) for r in reads] == [1, 1, 0, 0, 0]
    assert [r.given_up for r in reads] == [(), (), ((TP, 898),), (), ()]
    done = repair.check({}, now=150)
    assert done.decided == ((TP, 898),) and repair.watching() == {}


def test_a_rebalance_starts_the_two_checks_again() -> None:
    repair: HoleRepair[tuple[str, int]] = HoleRepair(confirm_s=5, patience_s=30, max_reads=3)
    repair.check({TP: 898}, now=0)
    repair.rebalancing()
    assert repair.check({TP: 898}, now=5).read_again == ()
    assert repair.check({TP: 898}, now=10).read_again == ((TP, 898),)
