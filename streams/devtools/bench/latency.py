"""Step 6: decision latency at a fixed rate below the gate's maximum.

Latency is the verdict's broker append time minus its intent's (both topics LogAppendTime; the
intent's comes back in its delivery report), so the clocks compared are the broker's alone.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from streams import topics
from streams.devtools.bench.context import RunContext
from streams.devtools.bench.errors import BenchError
from streams.devtools.bench.kafkaio import collect_stamps, topic_end_offsets
from streams.devtools.bench.measure import percentile
from streams.devtools.bench.scrape import histogram_delta

Keyed = list[tuple[str, bytes, bytes]]  # (intent id, key, encoded value)


LOW_LINGER: dict[str, Any] = {"linger.ms": 1}  # one intent at a time, at a fixed rate


class FixedRateSender:
    """Produces pre-encoded intents on a schedule of `target` per second and keeps each one's
    broker append time from its delivery report."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Producer

        from connectors.producer import producer_config

        self.producer = Producer(producer_config(bootstrap, **LOW_LINGER))
        self.topic = topic
        self.appended: dict[str, int] = {}
        self.errors: list[str] = []
        self.late_max = 0.0  # how far the sender fell behind its schedule, in seconds

    def _delivered(self, intent_id: str, error: Any, message: Any) -> None:
        if error is not None:
            self.errors.append(str(error))
        else:
            self.appended[intent_id] = message.timestamp()[1]

    def send(self, encoded: Keyed, target: float) -> float:
        """Sends all of `encoded`; returns the seconds it took."""
        count, sent, producer = len(encoded), 0, self.producer
        began = time.perf_counter()
        while sent < count:
            due = min(count, int((time.perf_counter() - began) * target) + 1)
            self.late_max = max(self.late_max, (due - sent - 1) / target)
            while sent < due:
                intent_id, key, value = encoded[sent]
                try:
                    producer.produce(
                        self.topic, value, key,
                        on_delivery=functools.partial(self._delivered, intent_id),
                    )  # fmt: skip
                except BufferError:
                    producer.poll(0.001)
                    continue
                sent += 1
            producer.poll(0)
            pause = began + (sent + 1) / target - time.perf_counter()
            if pause > 0:
                time.sleep(min(pause, 0.002))
        producer.flush(60)
        return time.perf_counter() - began


def _fresh_intents(ctx: RunContext, count: int) -> Keyed:
    from connectors.producer import record_key, wire_record
    from streams.devtools.workload import intent_records

    encoded: Keyed = []
    for record in intent_records(ctx.state.recipients, count, ctx.state.clock, seed=101):
        record["id"] = f"L{record['id']}"
        value = ctx.codec.encode(topics.INTENTS, wire_record(record))
        encoded.append((record["id"], record_key(record).encode(), value))
    return encoded


def latency_samples(
    appended: dict[str, int], verdicts: dict[str, int], warmup_ms: float
) -> list[float]:
    """Verdict minus intent append time (ms) for intents appended after the warm-up."""
    first_ms = min(appended.values(), default=0)
    return [
        float(verdicts[i] - ts)
        for i, ts in appended.items()
        if i in verdicts and ts - first_ms >= warmup_ms
    ]


def latency(ctx: RunContext, load: float, fixed_rate: float | None) -> None:
    gate_rate = ctx.state.gate_rate
    target = fixed_rate or max(1.0, gate_rate * load)
    count = max(10, int(target * ctx.sizes.latency_seconds))
    encoded = _fresh_intents(ctx, count)
    verdicts_topic = ctx.topic(topics.VERDICTS)
    start = topic_end_offsets(ctx.bootstrap, verdicts_topic)
    sender = FixedRateSender(ctx.bootstrap, ctx.topic(topics.INTENTS))
    histogram_before = ctx.worker.latency_histogram()
    cpu_before, wall_before = ctx.worker.cpu_seconds(), time.monotonic()
    with ctx.phase(f"fixed rate: {target:,.0f} intents/s for {ctx.sizes.latency_seconds:g}s"):
        offered_s = sender.send(encoded, target)
    if sender.errors:
        errors = sender.errors
        raise BenchError(f"{len(errors)} fixed-rate intents not acknowledged: {errors[0]}")
    with ctx.phase("collect the fixed-rate verdicts"):
        verdicts = collect_stamps(
            ctx.bootstrap, verdicts_topic, start, set(sender.appended), timeout=600
        )
    # The worker's CPU while live (the fixed-rate intents and their last verdicts): small
    # batches cost more per intent than a drain's full ones, and this is what the queue sees.
    cpu_s, wall_s = ctx.worker.cpu_seconds() - cpu_before, time.monotonic() - wall_before
    cpu_us_per_intent = round(cpu_s / count * 1e6, 1)
    cores = round(cpu_s / wall_s, 2)  # wall_s spans the whole fixed-rate phase: never 0
    histogram = histogram_delta(histogram_before, ctx.worker.latency_histogram())
    warmup_s = ctx.sizes.latency_warmup_seconds
    samples = latency_samples(sender.appended, verdicts, warmup_s * 1000)
    report = ctx.report
    report["latency_p50_ms"] = percentile(samples, 0.50)
    report["latency_p99_ms"] = percentile(samples, 0.99)
    report["latency_p999_ms"] = percentile(samples, 0.999)
    report["latency"] = {
        "target_rate_per_s": round(target),
        "load_share_of_gate_max": round(target / gate_rate, 3) if gate_rate else None,
        "offered_rate_per_s": round(count / offered_s),
        "producer_max_behind_s": round(sender.late_max, 3),
        "intents": count,
        "samples": len(samples),
        "warmup_s_excluded": warmup_s,
        "max_ms": max(samples, default=0.0),
        "mean_ms": round(sum(samples) / len(samples), 2) if samples else 0.0,
        "worker_histogram": histogram,
        "worker_cpu_us_per_intent": cpu_us_per_intent,
        "worker_cpu_cores": cores,
    }
    ctx.say(
        f"latency at {target:,.0f}/s: p50 {report['latency_p50_ms']:.0f} ms, p99 "
        f"{report['latency_p99_ms']:.0f} ms, p99.9 {report['latency_p999_ms']:.0f} ms; worker "
        f"CPU {cpu_us_per_intent:.0f} µs per intent ({cores:.2f} cores)"
    )
