"""Steps 3 and 4: the baseline loop and the gate drain the same intents; sustained verdicts/s for
each from the broker timestamps of what they wrote."""

from __future__ import annotations

import time
from collections import Counter

from streams import topics
from streams.devtools.bench.baseline import BASELINE_TOPIC, run_baseline_child
from streams.devtools.bench.context import RunContext
from streams.devtools.bench.kafkaio import Record, commit_group_at_end, read_new, topic_end_offsets
from streams.devtools.bench.measure import rate, span_of


def per_verdict(seconds: float, verdicts: int, scale: float) -> float:
    """CPU seconds per verdict, in ms (scale 1e3) or µs (scale 1e6); a run without verdicts
    divides by 1, so the figure shows the CPU spent rather than a division by zero."""
    return seconds / max(1, verdicts) * scale


def baseline(ctx: RunContext) -> None:
    out_topic = f"{ctx.prefix}{BASELINE_TOPIC}"
    with ctx.phase("baseline: plain confluent-kafka loop"):
        broker_cpu = ctx.broker_cpu()
        result, child_cpu, child_rss = run_baseline_child(
            ctx.settings, out_topic, ctx.sizes.intents
        )
        broker_cpu = ctx.broker_cpu() - broker_cpu
    out = read_new(ctx.bootstrap, out_topic, None)
    first_ms, last_ms = span_of([r.timestamp_ms for r in out])
    per_s = rate(len(out), first_ms, last_ms)
    ctx.report["baseline_per_s"] = round(per_s)
    ctx.report["baseline"] = {
        **result,
        "verdicts": len(out),
        "span_s": round((last_ms - first_ms) / 1000, 3),
        "cpu_s": round(child_cpu, 2),
        "cpu_ms_per_verdict": round(per_verdict(child_cpu, len(out), 1e3), 3),
        "broker_cpu_s": ctx.broker_figure(broker_cpu, 2),
        "peak_rss_mb": round(child_rss / 1024, 1),
    }
    ctx.say(f"baseline: {per_s:,.0f} verdicts/s over {len(out)} records")


def _drain(ctx: RunContext) -> tuple[float, float, float, bool]:
    """Waits until the worker decided every intent or the window closed, then stops it:
    (worker CPU s, its garbage-collection s, broker CPU s, drained all). What is left is
    skipped for the next steps."""
    window = ctx.sizes.drain_seconds
    with ctx.phase(f"the gate drains the intents (at most {window:g}s)"):
        broker_cpu = ctx.broker_cpu()
        cpu_before = ctx.worker.cpu_seconds()
        gc_before = ctx.worker.gc_pause_seconds()
        deadline = time.monotonic() + window
        decided = 0
        while time.monotonic() < deadline:
            ctx.worker.require_alive("deciding")
            decided = ctx.worker.verdicts_so_far()
            if decided >= ctx.sizes.intents:
                break
            time.sleep(0.5)
        cpu = ctx.worker.cpu_seconds() - cpu_before
        gc_s = ctx.worker.gc_pause_seconds() - gc_before
        broker_cpu = ctx.broker_cpu() - broker_cpu
        ctx.worker.stop()
        drained = decided >= ctx.sizes.intents
        if not drained:  # skip what is left, so that the next steps start on a live topic
            commit_group_at_end(ctx.bootstrap, ctx.settings.app_id, [ctx.topic(topics.INTENTS)])
    return cpu, gc_s, broker_cpu, drained


def _tally(ctx: RunContext, verdicts: list[Record]) -> tuple[Counter[str], Counter[str]]:
    """Decisions and reasons of `verdicts`; remembers the allowed promotional intents (the
    recipients that the later steps probe and opt out)."""
    from streams.policy.engine import ALLOW

    decisions: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for record in verdicts:
        verdict = ctx.codec.decode(topics.VERDICTS, record.value)
        decisions[verdict["decision"]] += 1
        reasons[verdict["reason"]] += 1
        if verdict["decision"] == ALLOW and verdict["category"] == "promotional":
            ctx.state.allowed_promotional.append(verdict["id"])
    return decisions, reasons


def gate_drain(ctx: RunContext) -> None:
    """The worker restarts on its data directory and drains the pre-filled intents."""
    verdicts_topic = ctx.topic(topics.VERDICTS)
    start = topic_end_offsets(ctx.bootstrap, verdicts_topic)
    with ctx.phase("the gate: start on the pre-filled intents"):
        worker = ctx.worker.start()
    cpu, gc_s, broker_cpu, drained = _drain(ctx)
    verdicts = read_new(ctx.bootstrap, verdicts_topic, start)
    first_ms, last_ms = span_of([r.timestamp_ms for r in verdicts])
    per_s = rate(len(verdicts), first_ms, last_ms)
    ctx.state.gate_rate = per_s
    decisions, reasons = _tally(ctx, verdicts)
    count = len(verdicts)
    ctx.report["gate_verdicts_per_s"] = round(per_s)
    ctx.report["cpu_us_per_verdict"] = round(per_verdict(cpu, count, 1e6), 1)
    ctx.report["gate"] = {
        "verdicts": count,
        "intents": ctx.sizes.intents,
        "drained_all": drained,
        "distinct_intents_decided": len({record.key for record in verdicts}),
        "span_s": round((last_ms - first_ms) / 1000, 3),
        "ready_s": round(worker.ready_after_s or 0.0, 2),
        "worker_cpu_s": round(cpu, 2),
        "worker_cpu_ms_per_verdict": round(per_verdict(cpu, count, 1e3), 3),
        # Garbage collection's share of the worker's CPU over the drain (issue 12, item 6):
        # what GC tuning could win at most.
        "worker_gc_s": round(gc_s, 3),
        "worker_gc_share": round(gc_s / cpu, 4) if cpu > 0 else None,
        "broker_cpu_s": ctx.broker_figure(broker_cpu, 2),
        "broker_cpu_ms_per_verdict": ctx.broker_figure(per_verdict(broker_cpu, count, 1e3), 3),
        "decisions": dict(decisions),
        "top_reasons": dict(reasons.most_common(10)),
    }
    baseline_per_s = ctx.report.get("baseline_per_s") or 0
    ctx.report["ratio"] = round(per_s / baseline_per_s, 4) if baseline_per_s else 0.0
    ctx.say(f"gate: {per_s:,.0f} verdicts/s over {count} verdicts")
