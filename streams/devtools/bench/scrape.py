"""What the worker tells about itself, read from its /metrics text and its log.

Pure functions of text, so that the parsing is tested without a worker.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

FAUST_LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")
HOLD_SUM = -1.0  # histogram keys that are not bucket bounds: the ordering hold's sum and count
HOLD_COUNT = -2.0
BULK_LOAD_LINE = re.compile(r"loaded \d+ changelog records into \d+ partitions in ([\d.]+)s")


def verdicts_total(metrics_text: str) -> int:
    """Verdicts the worker has written, all labels summed (its counter starts at 0)."""
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics_text.splitlines()
            if line.startswith("consentgate_verdicts_total{")
        )
    )


def gc_pause_seconds(metrics_text: str) -> float:
    """Seconds the worker has spent in garbage collection, all generations summed."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith("consentgate_gc_pause_seconds_total{")
    )


def latency_histogram(metrics_text: str) -> dict[float, float]:
    """Cumulative bucket counts of the decision latency histogram by upper bound (s), and under
    HOLD_SUM / HOLD_COUNT the sum and count of the read-your-opt-outs hold histogram."""
    buckets: dict[float, float] = {}
    for line in metrics_text.splitlines():
        if line.startswith("consentgate_decision_latency_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[math.inf if bound == "+Inf" else float(bound)] = float(line.split()[-1])
        elif line.startswith("consentgate_ordering_hold_seconds_sum "):
            buckets[HOLD_SUM] = float(line.split()[-1])
        elif line.startswith("consentgate_ordering_hold_seconds_count "):
            buckets[HOLD_COUNT] = float(line.split()[-1])
    return buckets


def histogram_delta(before: dict[float, float], after: dict[float, float]) -> dict[str, Any]:
    """p50, p99 and p99.9 upper bucket bounds (ms) of what the worker's latency histogram saw in
    between, and the mean read-your-opt-outs hold; None where a quantile is past the last finite
    bound or nothing was observed."""
    holds = after.get(HOLD_COUNT, 0.0) - before.get(HOLD_COUNT, 0.0)
    hold_s = after.get(HOLD_SUM, 0.0) - before.get(HOLD_SUM, 0.0)
    bounds = sorted(b for b in after if b >= 0)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    found: dict[str, Any] = {"observations": int(total)}
    for name, q in (("p50_le_ms", 0.5), ("p99_le_ms", 0.99), ("p999_le_ms", 0.999)):
        bound = next(
            (b for b, c in zip(bounds, counts, strict=True) if total and c >= q * total), None
        )
        found[name] = None if bound is None or math.isinf(bound) else bound * 1000
    found["hold_mean_ms"] = round(hold_s / holds * 1000, 2) if holds else None
    return found


def changelog_replay_seconds(log_path: Path, offset: int) -> float | None:
    """Time spent rebuilding the table in the log written after `offset`: the bulk loader's
    own figure ("loaded N changelog records ... in S s", `streams/runtime/recovery.py`) plus
    faust's replay of the rest, from "Restoring state from changelog topics" to "Recovery
    complete"; None when the worker rebuilt nothing."""
    try:
        text = log_path.read_bytes()[offset:].decode(errors="replace")
    except OSError:
        return None
    bulk = BULK_LOAD_LINE.search(text)
    replay = _faust_replay_seconds(text)
    if bulk is None and replay is None:
        return None
    return round((float(bulk.group(1)) if bulk else 0.0) + (replay or 0.0), 2)


def _faust_replay_seconds(text: str) -> float | None:
    began = ended = None
    for line in text.splitlines():
        match = FAUST_LOG_TIME.match(line)
        if match is None:
            continue
        at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if began is None and "Restoring state from changelog topics" in line:
            began = at
        elif began is not None and "Recovery complete" in line:
            ended = at
            break
    if began is None or ended is None:
        return None
    return ended - began
