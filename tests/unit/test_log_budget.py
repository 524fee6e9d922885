"""The log budget (runtime/log_budget.py): a burst per window, then one count of what was left
out, on the first line of a later window."""

from __future__ import annotations

from streams.runtime.log_budget import LogBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_per_window_then_the_count_of_what_was_left_out() -> None:
    clock = Clock()
    budget = LogBudget(burst=3, window_s=10.0, clock=clock)
    assert [budget.take() for _ in range(5)] == [(True, 0)] * 3 + [(False, 0)] * 2
    clock.now += 9.9
    assert budget.take() == (False, 0), "still the first window"
    clock.now += 0.1
    assert budget.take() == (True, 3), "the next window's first line says how many were left out"
    assert budget.take() == (True, 0), "and says it once"


def test_a_quiet_window_leaves_nothing_out() -> None:
    clock = Clock()
    budget = LogBudget(burst=2, window_s=1.0, clock=clock)
    for _ in range(5):
        assert budget.take() == (True, 0)
        clock.now += 1.0
