"""Step 4, after the drain: the gate's own code alone, with no faust, Kafka or RocksDB.

The bench workload's consent records are applied to a dict with the gate's own code, then its
intents are decided by `Gate.decide_intent` with outputs that only count, in a child process.
The CPU per intent of that loop is the floor under the worker's CPU per verdict: what any
consuming layer (faust, librdkafka, a hand-written loop) adds comes on top of it. Next to the
worker's figure it splits a verdict's CPU into the gate's code and everything around it, so a
target per verdict can be checked against what the policy's own work costs.

As in the worker, verdicts carry pseudonyms, and there are more recipients than the per-address
caches hold, so most intents meet an address not seen lately.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

from streams.devtools.bench.child import run_child
from streams.devtools.bench.context import RunContext

# A dict of 200,000 recipients' state builds in about 30 s and outgrows every per-address cache;
# 20,000 intents give a stable figure. Smaller runs (--quick, --consents) use their own sizes.
MAX_RECIPIENTS = 200_000
MAX_INTENTS = 20_000


class CountingOutputs:
    """Outputs that only count what the gate sends, per topic."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def send(
        self, spec: Any, key: bytes | None, value: bytes, on_ack: Any = None, headers: Any = None
    ) -> None:
        self.sent[spec.base] += 1


def build_gate(recipients: int, intents: int) -> tuple[Any, list[Any], CountingOutputs]:
    """A gate on a dict holding the workload's state for `recipients`, `intents` of its intents
    as wire records, and the outputs it sends to. Per-address caches start empty, as in a worker
    whose producers are other processes."""
    from connectors.producer import record_key, wire_record
    from streams import topics
    from streams.devtools.workload import Clock, consent_records, intent_records, make_recipients
    from streams.metrics import GateMetrics
    from streams.policy import addresses
    from streams.policy.config import PolicyConfig
    from streams.policy.pseudonym import Pseudonyms
    from streams.policy.recipient import number_facts
    from streams.policy.state import Agreements
    from streams.runtime.gate import Gate, Inbound
    from streams.runtime.statestore import MappingStore
    from streams.serdes import WireCodec
    from streams.serdes.codec import new_registry_client

    codec = WireCodec(new_registry_client("mock://bench-gate-code"), auto_register=True)
    codec.register_all(compatibility=None)  # the mock has no compatibility endpoint
    outputs = CountingOutputs()
    no_agreements = SimpleNamespace(current=Agreements())  # the workload's partners have none
    gate = Gate(
        codec=codec, store=MappingStore({}), agreements=no_agreements, outputs=outputs,  # type: ignore[arg-type]
        metrics=GateMetrics(), config=PolicyConfig(),
        names={spec.base: spec.base for spec in topics.ALL},
        pseudonyms=Pseudonyms([("bench", b"bench-gate-code-key-0123456789ab")]),
    )  # fmt: skip
    people = make_recipients(recipients)
    clock = Clock()
    now = time.time()
    for n, record in enumerate(consent_records(people, clock)):
        spec = topics.TOPIC_OF_RECORD_TYPE[record["type"]]
        value = codec.encode(spec, wire_record(record))
        gate.apply_state_record(
            spec, Inbound(spec.base, 0, n, record_key(record).encode(), value, now)
        )
    messages = []
    for n, record in enumerate(intent_records(people, intents, clock)):
        value = codec.encode(topics.INTENTS, wire_record(record))
        messages.append(Inbound(topics.INTENTS.base, 0, n, record_key(record).encode(), value, now))
    outputs.sent.clear()
    addresses.clear_caches()  # keying the messages normalized their addresses here
    number_facts.cache_clear()
    return gate, messages, outputs


def decide_all(gate: Any, messages: list[Any]) -> float:
    """Decides every message as the worker's intent agent does, state caught up; CPU seconds."""
    from streams.runtime.ordering import HoldResult

    hold = HoldResult(caught_up=True, waited_s=0.0)
    started = time.process_time()
    for message in messages:
        gate.decide_intent(message, hold)
    return time.process_time() - started


def gate_code_main(recipients: int, intents: int, results: Any) -> None:
    """The child: build, decide, send back what it measured."""
    logging.disable(logging.WARNING)  # the workload's invalid intents are dead-lettered
    gate, messages, outputs = build_gate(recipients, intents)
    cpu_s = decide_all(gate, messages)
    results.send({"intents": len(messages), "cpu_s": cpu_s, "sent": dict(outputs.sent)})


def gate_code_alone(ctx: RunContext) -> None:
    """Measures the gate's code alone and sets it beside the worker's drain figure."""
    recipients = min(ctx.sizes.recipients, MAX_RECIPIENTS)
    intents = min(ctx.sizes.intents, MAX_INTENTS)
    with ctx.phase("the gate's code alone (no faust, Kafka or RocksDB)"):
        result, _, _ = run_child(gate_code_main, (recipients, intents), "gate-code")
    decided = int(result["intents"])
    cpu_s = float(result["cpu_s"])
    us_per_intent = cpu_s / max(1, decided) * 1e6
    per_s = round(decided / cpu_s) if cpu_s > 0 else None
    worker_us = ctx.report.get("cpu_us_per_verdict") or 0.0
    ctx.report["gate_code_us_per_intent"] = round(us_per_intent, 1)
    ctx.report["gate_code"] = {
        "recipients": recipients,
        "intents": decided,
        "cpu_s": round(cpu_s, 3),
        "per_s_one_core": per_s,
        "share_of_worker_cpu_per_verdict": (
            round(us_per_intent / worker_us, 3) if worker_us > 0 else None
        ),
        "sent": result["sent"],
    }
    ctx.say(f"the gate's code alone: {us_per_intent:,.1f} µs per intent ({per_s}/s on one core)")
