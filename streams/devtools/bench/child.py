"""A measuring step's child process: run it to its end, watching its CPU time and peak memory."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from typing import Any

from streams.devtools.bench.errors import BenchError
from streams.devtools.bench.measure import cpu_seconds, proc_status_kb

CHILD_TIMEOUT_S = 1800


def run_child(
    target: Callable[..., None], args: tuple[Any, ...], name: str
) -> tuple[dict[str, Any], float, int]:
    """Runs `target(*args, results)` in a spawned child until it sends its result on `results`:
    (that result, the child's CPU seconds, its peak RSS in kB). A child that ends, or outlives
    CHILD_TIMEOUT_S, without a result is a BenchError."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=target, args=(*args, send), name=f"consentgate-bench-{name}", daemon=True
    )
    child.start()
    pid = child.pid
    assert pid is not None
    child_cpu, child_rss = 0.0, 0
    result: dict[str, Any] | None = None
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while time.monotonic() < deadline:
        child_cpu = max(child_cpu, cpu_seconds(pid))
        child_rss = max(child_rss, proc_status_kb(pid, "VmHWM"))
        if receive.poll(0.25):
            result = receive.recv()
            break
        if not child.is_alive():
            break
    child.join(30)
    if child.is_alive():
        child.kill()
        child.join(5)
    if result is None:
        raise BenchError(f"the {name} child ended without a result (exit {child.exitcode})")
    return result, child_cpu, child_rss
