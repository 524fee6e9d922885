"""Steps 2 and 5: the worker's cold start (table rebuilt from the changelog), its warm restart
(data directory kept), and the rate at which the live worker applies fresh consent records."""

from __future__ import annotations

import time
from itertools import islice
from typing import Any

from streams import topics
from streams.devtools.bench.context import RunContext
from streams.devtools.bench.errors import BenchError
from streams.devtools.bench.kafkaio import assigned, await_verdict, topic_end_offsets
from streams.devtools.bench.load import produce_all
from streams.devtools.bench.scrape import changelog_replay_seconds


def rebuild_rate(records: int, replay_s: float | None) -> int | None:
    """Changelog records replayed per second; None when no replay was seen in the log."""
    return round(records / replay_s) if replay_s else None


def cold_start(ctx: RunContext) -> None:
    """The first start, on an empty data directory: the table comes from the changelog."""
    changelog_records = sum(topic_end_offsets(ctx.bootstrap, ctx.changelog_topic).values())
    log_offset = ctx.worker.log_offset()
    with ctx.phase("the gate: cold start (state from the changelog)"):
        worker = ctx.worker.start()
    ready_s = worker.ready_after_s or 0.0
    ready_cpu = ctx.worker.cpu_seconds()
    replay_s = changelog_replay_seconds(ctx.worker.log_path, log_offset)
    with ctx.phase("stop the worker"):
        ctx.worker.stop()
    ctx.report["cold_recovery_s"] = round(ready_s, 2)
    ctx.report["rebuild_records_per_s"] = rebuild_rate(changelog_records, replay_s)
    ctx.report["cold"] = {
        "ready_s": round(ready_s, 2),
        "worker_cpu_s_to_ready": round(ready_cpu, 2),
        "changelog_replay_s": replay_s,
        "changelog_records": changelog_records,
        "changelog_replay_per_s": rebuild_rate(changelog_records, replay_s),
    }
    ctx.say(
        f"cold start: ready after {ready_s:.1f}s, changelog replay {replay_s}s over "
        f"{changelog_records} records"
    )


def probe_intent(ctx: RunContext, kind: str) -> dict[str, Any]:
    """A fresh copy of an intent the gate allowed: the worker will decide it again."""
    if not ctx.state.allowed_promotional:
        raise BenchError("the gate allowed no promotional intent: nothing to probe with")
    original = ctx.state.intents_by_id[ctx.state.allowed_promotional[-1]]
    return dict(original, id=f"bench-probe-{kind}", at=ctx.state.clock.tick())


def warm_restart(ctx: RunContext) -> None:
    """The worker on its kept data directory; a probe produced at spawn time gives the time to
    its first verdict."""
    from connectors.producer import GateProducer

    verdicts_topic = ctx.topic(topics.VERDICTS)
    start = topic_end_offsets(ctx.bootstrap, verdicts_topic)
    probe = probe_intent(ctx, "warm")
    producer = GateProducer(ctx.bootstrap, ctx.codec, topic_prefix=ctx.prefix)
    with ctx.phase("warm restart"):
        spawned = time.monotonic()
        producer.publish(probe, wait=True)  # waits in the topic: the worker's first verdict
        worker = ctx.worker.start()
        ready_cpu = ctx.worker.cpu_seconds()
        reader = assigned(ctx.bootstrap, verdicts_topic, start)
        await_verdict(reader, ctx.codec, probe["id"], timeout=120)
        first_verdict_s = time.monotonic() - spawned
        reader.close()
    ready_s = worker.ready_after_s or 0.0
    ctx.report["warm_restart_s"] = round(ready_s, 2)
    ctx.report["warm"] = {
        "ready_s": round(ready_s, 2),
        "worker_cpu_s_to_ready": round(ready_cpu, 2),
        "first_verdict_s": round(first_verdict_s, 2),
    }
    ctx.say(f"warm restart: ready after {ready_s:.1f}s, first verdict {first_verdict_s:.1f}s")


def ingest_sample(ctx: RunContext, bulk: Any) -> None:
    """The live worker applying fresh consent records: its state ingest rate."""
    from streams.devtools.workload import consent_records

    count = ctx.sizes.ingest_sample
    fresh = []
    for record in islice(consent_records(ctx.state.recipients, ctx.state.clock, seed=97), count):
        record["id"] = f"S{record['id']}"
        fresh.append(bulk.encode(record))
    with ctx.phase(f"the gate applies {count} fresh consent records"):
        cpu_before = ctx.worker.cpu_seconds()
        started = time.monotonic()
        produce_all(bulk, fresh)
        ctx.worker.wait_committed(
            [ctx.topic(topics.CONSENT), ctx.topic(topics.OPTOUT)],
            timeout=600,
            what="applying consent records",
        )
        took = time.monotonic() - started
        cpu = ctx.worker.cpu_seconds() - cpu_before
    ctx.report["state_ingest"] = {
        "records": count,
        "seconds": round(took, 2),
        "records_per_s": round(count / took),
        "worker_cpu_ms_per_record": round(cpu / count * 1000, 3),
        "note": "produce to committed (1 s commit interval, polled every 0.5 s)",
    }
