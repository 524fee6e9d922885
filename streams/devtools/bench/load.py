"""Step 1 (the consent state, through the seeding children, while the intents are generated and
encoded here) and the intents' load before step 3."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from streams import topics
from streams.devtools.bench.context import RunContext
from streams.devtools.bench.kafkaio import commit_group_at_end
from streams.devtools.bench.seeding import SEED_CHILDREN, Seeders, clock_after_state, state_stream

Encoded = list[tuple[Any, str, bytes]]
BULK_PRODUCER: dict[str, Any] = {
    "linger.ms": 20,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
}


def bulk_producer(ctx: RunContext) -> Any:
    """The producer for the pre-encoded loads: large batches, no wait per record."""
    from connectors.producer import GateProducer

    return GateProducer(ctx.bootstrap, ctx.codec, topic_prefix=ctx.prefix, **BULK_PRODUCER)


def produce_all(bulk: Any, encoded: Encoded) -> float:
    """Seconds to produce `encoded` and have every record acknowledged."""
    started = time.monotonic()
    publish = bulk.publish_encoded
    for spec, key, value in encoded:
        publish(spec, key, value, wait=False)
    bulk.flush(300)
    return time.monotonic() - started


def _publish_partners(ctx: RunContext, bulk: Any) -> int:
    """Partner agreements published; sets the run's recipients and the workload clock as it
    stands after the state records. Returns the number of partner records."""
    from streams.devtools.workload import make_recipients

    recipients = make_recipients(ctx.sizes.recipients)
    partners, _ = state_stream(recipients)
    for record in partners:
        bulk.publish(record, wait=False)
    bulk.flush()
    ctx.state.recipients = recipients
    ctx.state.clock = clock_after_state(ctx.sizes.consent_records, len(partners))
    return len(partners)


def _generate_intents(ctx: RunContext, bulk: Any) -> tuple[list[dict[str, Any]], Encoded]:
    """The throughput runs' intents, generated and encoded up front."""
    from streams.devtools.workload import intent_records

    intents = list(intent_records(ctx.state.recipients, ctx.sizes.intents, ctx.state.clock))
    return intents, [bulk.encode(record) for record in intents]


def load_state_and_generate_intents(ctx: RunContext, bulk: Any) -> Encoded:
    """The consent state through the seeding children; meanwhile, the intents here."""
    started = time.monotonic()
    broker_cpu = ctx.broker_cpu()
    with ctx.phase("load the consent state and seed the changelog"):
        seeders = Seeders(ctx.settings, ctx.changelog_topic, ctx.sizes).start()
        partners = _publish_partners(ctx, bulk)
        generated = time.monotonic()
        intent_list, encoded = _generate_intents(ctx, bulk)
        encode_s = time.monotonic() - generated
        results = seeders.results()
        load_s = time.monotonic() - started
    broker_cpu = ctx.broker_cpu() - broker_cpu
    commit_group_at_end(
        ctx.bootstrap, ctx.settings.app_id, [ctx.topic(topics.CONSENT), ctx.topic(topics.OPTOUT)]
    )
    ctx.state.intents_by_id = {record["id"]: record for record in intent_list}
    workload = workload_figures(ctx, results, partners, intent_list, encoded)
    ctx.report["workload"] = workload
    ctx.report["load"] = {
        "state_seconds": round(load_s, 2),
        "state_records_per_s": round(workload["consent_records"] / load_s),
        "state_children": SEED_CHILDREN,
        "state_child_seconds": [round(r["seconds"], 1) for r in results],
        "state_broker_cpu_s": ctx.broker_figure(broker_cpu, 1),
        "intents_generate_encode_s": round(encode_s, 2),
        "note": "state: generate, encode, produce and apply (gate code) in "
        f"{SEED_CHILDREN} child processes, changelog written as the worker would",
    }
    ctx.say(
        f"{workload['consent_records']} consent records over {workload['recipients']} recipients "
        f"loaded, {workload['changelog_records']} changelog records; "
        f"{len(intent_list)} intents encoded"
    )
    return encoded


def workload_figures(
    ctx: RunContext,
    results: list[dict[str, Any]],
    partners: int,
    intent_list: list[dict[str, Any]],
    encoded: Encoded,
) -> dict[str, Any]:
    """What the run's workload turned out to be, from the children's counts and the intents."""
    recipients = len(ctx.state.recipients)
    consent = sum(r["consent"] for r in results)
    optout = sum(r["optout"] for r in results)
    intents = max(1, len(intent_list))
    categories = Counter(record["category"] for record in intent_list)
    invalid = sum(
        1
        for record in intent_list
        if record["channel"] == "pigeon" or record["address"] == "not-an-address"
    )
    return {
        "recipients": recipients,
        "consent_records": consent + optout,
        "grants_and_confirms": consent,
        "optouts": optout,
        "opted_out_recipients_share": round(
            sum(r["opted_out_recipients"] for r in results) / max(1, recipients), 4
        ),
        "state_records_dead_lettered": sum(r["dead_letters"] for r in results),
        "table_keys": sum(r["table_keys"] for r in results),
        "changelog_records": sum(r["changelog_records"] for r in results),
        "partner_records": partners,
        "intents": len(intent_list),
        "intent_mix": {k: round(v / intents, 4) for k, v in sorted(categories.items())},
        "invalid_intents_share": round(invalid / intents, 4),
        "mean_intent_bytes": round(sum(len(v) for _, _, v in encoded) / max(1, len(encoded))),
    }


def load_intents(ctx: RunContext, bulk: Any, intents: Encoded) -> None:
    with ctx.phase("load the send intents"):
        took = produce_all(bulk, intents)
    ctx.report["load"].update(
        intents_produce_s=round(took, 2),
        intents_produce_per_s=round(len(intents) / took),
    )
