"""The gate's own record of released offsets, the ceiling of every commit (issue 13): an
`AppliedPositions` over the acknowledgements the gate released, asked with `at_least`."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.runtime.ordering import AppliedPositions


def test_the_ceiling_is_the_first_offset_not_released_from_the_committed_one() -> None:
    released = AppliedPositions()
    for offset in (100, 101, 103):
        released.advance(("p", 0), offset)
    assert released.at_least(("p", 0), 100) == 102  # 102 was never released
    released.advance(("p", 0), 102)
    assert released.at_least(("p", 0), 100) == 104


def test_nothing_released_means_no_further_than_the_committed_offset() -> None:
    released = AppliedPositions()
    assert released.at_least(("p", 0), 226) == 226
    released.advance(("p", 0), 248)  # the fetch skipped 226-247: the commit stays
    assert released.at_least(("p", 0), 226) == 226
    for offset in range(226, 248):  # 248 was kept beyond the gap: it counts once it fills
        released.advance(("p", 0), offset)
    assert released.at_least(("p", 0), 226) == 249


def test_releases_below_a_committed_offset_that_moved_on_are_dropped() -> None:
    released = AppliedPositions()
    released.advance(("p", 0), 5)
    released.advance(("p", 0), 7)
    assert released.at_least(("p", 0), 7) == 8  # another member committed 7: start there


def test_the_first_release_starts_from_the_committed_offset_faust_knows() -> None:
    released = AppliedPositions(committed=lambda tp: 40)
    released.advance(("p", 0), 40)
    assert released.at_least(("p", 0), 40) == 41


def test_a_new_assignment_starts_the_partition_again_from_its_committed_offset() -> None:
    released = AppliedPositions()
    for offset in range(226, 248):  # acknowledged while a revocation waited
        released.advance(("p", 1), offset)
    released.forget([("p", 1)])
    released.advance(("p", 1), 1201)
    assert released.at_least(("p", 1), 1200) == 1200  # the stale run does not fill 1200
    released.advance(("p", 1), 1200)
    assert released.at_least(("p", 1), 1200) == 1202


@given(
    committed=st.integers(0, 50),
    offsets=st.lists(st.integers(0, 120), max_size=200),
)
def test_the_ceiling_never_passes_an_offset_that_was_not_released(
    committed: int, offsets: list[int]
) -> None:
    released = AppliedPositions()
    for offset in offsets:
        released.advance(("p", 0), offset)
    ceiling = released.at_least(("p", 0), committed)
    assert ceiling >= committed
    assert set(range(committed, ceiling)) <= set(offsets)
    assert ceiling not in offsets
