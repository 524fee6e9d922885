"""A budget for log lines that bad input can cause by the thousand.

A flood of malformed records (a producer deploying a broken schema, a hostile client) would
otherwise write one warning per record: the log fills, its shipping costs more than the gate's
work (a warning cost about as much CPU as deciding an intent), and the first lines, which say
what broke, scroll away. Every record is still counted in the metrics and kept as a dead letter;
the log shows the first `burst` lines of each window and then one line saying how many it left
out.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class LogBudget:
    """At most `burst` lines per `window_s` seconds; `take()` says whether the next one may go
    and how many were left out since the last one that went."""

    __slots__ = ("_burst", "_clock", "_left_out", "_opened", "_used", "_window_s")

    def __init__(
        self, burst: int = 20, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._burst, self._window_s, self._clock = burst, window_s, clock
        self._opened = clock()
        self._used = 0
        self._left_out = 0

    def take(self) -> tuple[bool, int]:
        """(may this line be written, how many were left out before it: say so when > 0)."""
        now = self._clock()
        if now - self._opened >= self._window_s:
            self._opened, self._used = now, 0
        if self._used >= self._burst:
            self._left_out += 1
            return False, 0
        self._used += 1
        left_out, self._left_out = self._left_out, 0
        return True, left_out
