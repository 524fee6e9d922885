"""Step 8, with `--scale-workers N`: does the gate scale by partition on this machine?

The same live workload is decided by one worker, then by N workers in one consumer group, each
on its own data directory (the extra ones rebuild their partitions from the changelog). Each
phase waits until every partition answers a probe intent (group settled, state recovered), then
produces a fresh set of intents at once and rates the verdicts by their broker timestamps, as
step 5 does; CPU is the sum over the phase's workers. Both phases are measured the same way, so
their ratio is the scaling; step 5's figure (a restart on a pre-filled topic) is not comparable.
On a 2-core machine the broker shares the cores, so N = 2 shows the ceiling here, not the
gate's.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from streams import topics
from streams.devtools.bench.context import RunContext
from streams.devtools.bench.kafkaio import collect_stamps, read_new, topic_end_offsets
from streams.devtools.bench.load import produce_all
from streams.devtools.bench.measure import cpu_seconds, rate, span_of
from streams.devtools.ports import free_port

PROBES_PER_PARTITION = 4
SETTLE_TIMEOUT_S = 300.0


def scale_out(ctx: RunContext, bulk: Any, workers: int) -> None:
    """Measure one worker, then `workers`, on fresh intents; report both and their ratio."""
    if workers < 2:
        return
    count = max(1_000, ctx.sizes.intents // 2)
    phases = {}
    for n in (1, workers):
        phases[n] = _phase(ctx, bulk, n, count)
    one, many = phases[1]["verdicts_per_s"], phases[workers]["verdicts_per_s"]
    ctx.report["scale"] = {
        "workers": workers,
        "intents_per_phase": count,
        "phases": {str(n): figures for n, figures in phases.items()},
        "speedup": round(many / one, 3) if one else None,
    }
    ctx.say(f"scale: 1 worker {one:,.0f}/s, {workers} workers {many:,.0f}/s")


def _phase(ctx: RunContext, bulk: Any, workers: int, count: int) -> dict[str, Any]:
    from streams.devtools.runner import WorkerProcess
    from streams.devtools.workload import intent_records

    extra = [
        WorkerProcess(
            ctx.settings.replace(
                data_dir=ctx.work_dir / f"scale-worker-{i}-data", web_port=free_port()
            ),
            ctx.work_dir / f"scale-worker-{i}.log",
        )
        for i in range(1, workers)
    ]
    verdicts_topic = ctx.topic(topics.VERDICTS)
    try:
        with ctx.phase(f"scale: {workers} worker(s) start and settle"):
            ctx.worker.start()
            pids = [ctx.worker.pid]
            for worker in extra:
                worker.start(timeout=SETTLE_TIMEOUT_S)
                assert worker.process is not None
                pids.append(worker.process.pid)
                ctx.worker.memory.watch(worker.process.pid)
            _settle(ctx, bulk, f"probe-{workers}w-")
        intents = list(
            intent_records(ctx.state.recipients, count, ctx.state.clock, seed=17 + workers,
                           id_prefix=f"scale{workers}w-")
        )  # fmt: skip
        encoded = [bulk.encode(record) for record in intents]
        start = topic_end_offsets(ctx.bootstrap, verdicts_topic)
        with ctx.phase(f"scale: {workers} worker(s) decide {count} intents"):
            cpu_before = sum(cpu_seconds(pid) for pid in pids)
            produce_all(bulk, encoded)
            stamps = collect_stamps(
                ctx.bootstrap, verdicts_topic, start, {r["id"] for r in intents}, timeout=600
            )
            cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    finally:
        for worker in extra:
            worker.stop(timeout=60)
        ctx.worker.stop()
    wanted = {r["id"].encode() for r in intents}
    reasons = Counter(
        ctx.codec.decode(topics.VERDICTS, record.value)["reason"]
        for record in read_new(ctx.bootstrap, verdicts_topic, start)
        if record.key in wanted
    )
    first_ms, last_ms = span_of(list(stamps.values()))
    per_s = rate(len(stamps), first_ms, last_ms)
    return {
        "verdicts_per_s": round(per_s),
        "span_s": round((last_ms - first_ms) / 1000, 3),
        "worker_cpu_s": round(cpu, 2),
        "cpu_us_per_verdict": round(cpu / max(1, len(stamps)) * 1e6, 1),
        "reasons": dict(reasons.most_common()),
    }


def _settle(ctx: RunContext, bulk: Any, prefix: str) -> None:
    """Until a probe intent on every partition has its verdict: every partition has an owner
    that has recovered it. A rebalance that moves partitions again delays the answers only."""
    from connectors.partitioning import partition_for
    from streams.devtools.workload import intent_records

    partitions = ctx.settings.partitions
    per_partition: dict[int, list[Any]] = {p: [] for p in range(partitions)}
    candidates = intent_records(
        ctx.state.recipients, 1_000 * partitions * PROBES_PER_PARTITION, ctx.state.clock,
        seed=7 + len(prefix), invalid_share=0.0, id_prefix=prefix,
    )  # fmt: skip
    for record in candidates:
        encoded = bulk.encode(record)
        chosen = per_partition[partition_for(encoded[1].encode(), partitions)]
        if len(chosen) < PROBES_PER_PARTITION:
            chosen.append((record["id"], encoded))
        if all(len(c) == PROBES_PER_PARTITION for c in per_partition.values()):
            break
    probes = [probe for chosen in per_partition.values() for probe in chosen]
    start = topic_end_offsets(ctx.bootstrap, ctx.topic(topics.VERDICTS))
    produce_all(bulk, [encoded for _, encoded in probes])
    collect_stamps(
        ctx.bootstrap, ctx.topic(topics.VERDICTS), start, {i for i, _ in probes},
        timeout=SETTLE_TIMEOUT_S,
    )  # fmt: skip
    time.sleep(2.0)  # let a rebalance still under way finish before the measured load
