"""The gate's own record of released offsets: the ceiling of every commit (issue 13)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.runtime.released import ReleasedOffsets


def test_the_ceiling_is_the_first_offset_not_released_from_the_committed_one() -> None:
    released: ReleasedOffsets[str] = ReleasedOffsets()
    for offset in (100, 101, 103):
        released.released("p0", offset)
    assert released.ceiling("p0", 100) == 102  # 102 was never released
    released.released("p0", 102)
    assert released.ceiling("p0", 100) == 104
    assert released.waiting("p0") == 0


def test_nothing_released_means_no_further_than_the_committed_offset() -> None:
    released: ReleasedOffsets[str] = ReleasedOffsets()
    assert released.ceiling("p0", 226) == 226
    released.released("p0", 248)  # the fetch skipped 226-247: the commit stays
    assert released.ceiling("p0", 226) == 226
    assert released.waiting("p0") == 1


def test_releases_below_a_committed_offset_that_moved_on_are_dropped() -> None:
    released: ReleasedOffsets[str] = ReleasedOffsets()
    released.released("p0", 5)
    released.released("p0", 7)
    assert released.ceiling("p0", 7) == 8  # another member committed 7: start there
    assert released.waiting("p0") == 0


def test_a_new_assignment_starts_the_partition_again_from_its_committed_offset() -> None:
    released: ReleasedOffsets[str] = ReleasedOffsets()
    for offset in range(226, 248):  # acknowledged while a revocation waited
        released.released("p1", offset)
    released.assigned(["p1"])
    released.released("p1", 1201)
    assert released.ceiling("p1", 1200) == 1200  # the stale run does not fill 1200
    released.released("p1", 1200)
    assert released.ceiling("p1", 1200) == 1202


@given(
    committed=st.integers(0, 50),
    offsets=st.lists(st.integers(0, 120), max_size=200),
)
def test_the_ceiling_never_passes_an_offset_that_was_not_released(
    committed: int, offsets: list[int]
) -> None:
    released: ReleasedOffsets[str] = ReleasedOffsets()
    for offset in offsets:
        released.released("p", offset)
    ceiling = released.ceiling("p", committed)
    assert ceiling >= committed
    assert set(range(committed, ceiling)) <= set(offsets)
    assert ceiling not in offsets
