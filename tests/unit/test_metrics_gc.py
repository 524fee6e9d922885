"""The worker counts the time it spends in garbage collection (issue 12: measure GC, then tune)."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry

from streams.metrics import GateMetrics


def _pause(metrics: GateMetrics, generation: str) -> float:
    value = metrics.registry.get_sample_value(
        "consentgate_gc_pause_seconds_total", {"generation": generation}
    )
    return value or 0.0


def test_a_collection_is_counted_under_its_generation_and_stops_when_unwatched() -> None:
    metrics = GateMetrics(CollectorRegistry())
    stop = metrics.watch_gc()
    try:
        gc.collect(2)
        after_full = _pause(metrics, "2")
        assert after_full > 0.0
        gc.collect(0)
        assert _pause(metrics, "0") > 0.0
    finally:
        stop()
    gc.collect(2)
    assert _pause(metrics, "2") == after_full
    assert on_gc_hooks(metrics) == 0


def on_gc_hooks(metrics: GateMetrics) -> int:
    """Hooks left behind by this bundle: none once unwatched."""
    return sum(
        1
        for hook in gc.callbacks
        if getattr(hook, "__qualname__", "").startswith("GateMetrics.watch_gc")
    )
