"""Numbers from samples and from /proc: percentiles, broker-timestamp rates, CPU time, peak RSS."""

from __future__ import annotations

import math
import os
import threading


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (any order); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def rate(count: int, first_ms: int, last_ms: int) -> float:
    """(count - 1) records over the span between the first and the last broker timestamp: the
    first record starts the clock, so it is not counted as done within the span."""
    if count < 2:
        return 0.0
    span_s = max(last_ms - first_ms, 1) / 1000.0
    return (count - 1) / span_s


def span_of(stamps: list[int]) -> tuple[int, int]:
    """(first, last) of broker timestamps in ms; (0, 0) for none."""
    return min(stamps, default=0), max(stamps, default=0)


def proc_status_kb(pid: int, field_name: str) -> int:
    """A kB field of /proc/PID/status (VmHWM, VmRSS), 0 when the process or field is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time of a process, 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


class MemorySampler:
    """Polls VmHWM (peak resident set) of the processes it is told about: a process's peak is
    only readable while it lives, so it is sampled until the end of the run."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.peak_kb: dict[int, int] = {}
        self._pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def watch(self, pid: int) -> None:
        self._pids.add(pid)
        self.sample(pid)

    def sample(self, pid: int) -> None:
        hwm = proc_status_kb(pid, "VmHWM")
        if hwm:
            self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), hwm)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in list(self._pids):
                self.sample(pid)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def peak_mb(self) -> float:
        return max(self.peak_kb.values(), default=0) / 1024.0
