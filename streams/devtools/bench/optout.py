"""Step 7: opt-out to enforcement. For recipients the gate allowed a promotional intent: produce an
opt-out and wait for its acknowledgement, then at once the same intent again; the sample is the
time from the ack to the deny verdict's arrival at a consumer in this process."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from streams import topics
from streams.devtools.bench.context import RunContext
from streams.devtools.bench.errors import BenchError
from streams.devtools.bench.kafkaio import await_verdict, consumer, end_offsets
from streams.devtools.bench.measure import percentile

KEYWORD_CHANNELS = {"sms", "mms", "whatsapp"}


NO_LINGER: dict[str, Any] = {"linger.ms": 0}  # each opt-out acknowledged at once


def chosen_recipients(
    allowed: list[str], intents_by_id: dict[str, dict[str, Any]], wanted: int
) -> list[dict[str, Any]]:
    """Up to `wanted` allowed intents, one per recipient address, in the order allowed."""
    seen: set[str] = set()
    chosen: list[dict[str, Any]] = []
    for intent_id in allowed:
        original = intents_by_id.get(intent_id)
        if original is None or original["address"] in seen:
            continue
        seen.add(original["address"])
        chosen.append(original)
        if len(chosen) >= wanted:
            break
    return chosen


def optout_for(original: dict[str, Any], n: int, at: Any) -> dict[str, Any]:
    """An opt-out of the recipient of `original`, by the method its channel uses."""
    method = "sms_keyword" if original["channel"] in KEYWORD_CHANNELS else "unsubscribe_link"
    return {
        "type": "optout",
        "id": f"bench-optout-{n}",
        "at": at,
        "channel": original["channel"],
        "address": original["address"],
        "jurisdiction": original["jurisdiction"],
        "party": None,
        "method": method,
    }


def _verdicts_reader(ctx: RunContext) -> Any:
    """A low-wait reader at the verdicts topic's end, its fetchers already started."""
    from confluent_kafka import TopicPartition

    topic = ctx.topic(topics.VERDICTS)
    reader = consumer(ctx.bootstrap, **{"fetch.wait.max.ms": 5})
    start = end_offsets(reader, topic)
    reader.assign([TopicPartition(topic, p, offset) for p, offset in start.items()])
    reader.consume(100, 0.5)  # let the reader's fetchers start before the first sample
    return reader


def _sample(ctx: RunContext, chosen: list[dict[str, Any]]) -> tuple[list[float], Counter[str]]:
    """Times (ms) from each opt-out's ack to its recipient's next verdict, and the outcomes."""
    from connectors.producer import GateProducer

    producer = GateProducer(ctx.bootstrap, ctx.codec, topic_prefix=ctx.prefix, **NO_LINGER)
    reader = _verdicts_reader(ctx)
    times_ms: list[float] = []
    outcomes: Counter[str] = Counter()
    clock = ctx.state.clock
    for n, original in enumerate(chosen):
        optout = optout_for(original, n, clock.tick())
        intent = dict(original, id=f"bench-after-optout-{n}", at=clock.tick())
        spec, key, value = producer.encode(intent)
        producer.publish(optout, wait=True)
        acked = time.perf_counter()
        producer.publish_encoded(spec, key, value, wait=False)
        verdict = await_verdict(reader, ctx.codec, intent["id"], timeout=60)
        times_ms.append((time.perf_counter() - acked) * 1000)
        outcomes[f"{verdict['decision']}:{verdict['reason']}"] += 1
    producer.flush()
    reader.close()
    return times_ms, outcomes


def optout_enforcement(ctx: RunContext) -> None:
    from streams.policy.engine import DENY

    state = ctx.state
    chosen = chosen_recipients(
        state.allowed_promotional, state.intents_by_id, ctx.sizes.optout_samples
    )
    if not chosen:
        raise BenchError("no allowed promotional intent to take recipients from")
    with ctx.phase(f"opt-out to enforcement: {len(chosen)} samples"):
        times_ms, outcomes = _sample(ctx, chosen)
    denied = sum(v for k, v in outcomes.items() if k.startswith(f"{DENY}:"))
    report = ctx.report
    report["optout_enforcement_p50_ms"] = round(percentile(times_ms, 0.50), 2)
    report["optout_enforcement_p99_ms"] = round(percentile(times_ms, 0.99), 2)
    report["optout_enforcement"] = {
        "samples": len(times_ms),
        "denied": denied,
        "outcomes": dict(outcomes),
        "max_ms": round(max(times_ms, default=0.0), 2),
        "mean_ms": round(sum(times_ms) / len(times_ms), 2) if times_ms else 0.0,
    }
    ctx.say(
        f"opt-out to enforcement: p50 {report['optout_enforcement_p50_ms']:.1f} ms, "
        f"p99 {report['optout_enforcement_p99_ms']:.1f} ms; {denied}/{len(times_ms)} denied"
    )
