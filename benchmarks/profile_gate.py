"""CPU per intent of the gate's own code, outside faust and Kafka: decode, validate, look up,
decide, remember, encode the verdict and violation.

The bench workload (`streams.devtools.workload`) is applied to an in-memory table with the gate's
own code, then every intent is decided by `Gate.decide_intent` with outputs that only count. The
figure is the floor under the worker's CPU per verdict: faust, librdkafka and RocksDB come on top.
As in the worker, verdicts carry pseudonyms, and there are more recipients than the per-address
caches hold (`make bench` has 800,000), so most intents meet an address not seen lately.

Run: .venv/bin/python benchmarks/profile_gate.py [--recipients N] [--intents N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import time
from collections import Counter
from typing import Any

from streams import topics
from streams.metrics import GateMetrics
from streams.policy import addresses
from streams.policy.config import PolicyConfig
from streams.policy.pseudonym import Pseudonyms
from streams.policy.recipient import number_facts
from streams.policy.state import Agreements
from streams.runtime.gate import Gate, Inbound
from streams.runtime.ordering import HoldResult
from streams.runtime.statestore import MappingStore
from streams.serdes import WireCodec
from streams.serdes.codec import new_registry_client


class _Agreements:
    current = Agreements()


class _CountingOutputs:
    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def send(
        self, spec: Any, key: bytes | None, value: bytes, on_ack: Any = None, headers: Any = None
    ) -> None:
        self.sent[spec.base] += 1


def build(recipients: int, intents: int) -> tuple[Gate, list[Inbound], _CountingOutputs]:
    from connectors.producer import record_key, wire_record
    from streams.devtools.workload import Clock, consent_records, intent_records, make_recipients

    codec = WireCodec(new_registry_client("mock://profile-gate"), auto_register=True)
    codec.register_all(compatibility=None)  # the mock has no compatibility endpoint
    outputs = _CountingOutputs()
    config = PolicyConfig()
    gate = Gate(
        codec=codec, store=MappingStore({}), agreements=_Agreements(), outputs=outputs,  # type: ignore[arg-type]
        metrics=GateMetrics(), config=config,
        names={spec.base: spec.base for spec in topics.ALL},
        pseudonyms=Pseudonyms([("bench", b"profile-gate-key-0123456789abcdef")]),
    )  # fmt: skip
    people = make_recipients(recipients)
    clock = Clock()
    now = time.time()
    for n, record in enumerate(consent_records(people, clock)):
        key = record_key(record).encode()
        spec = topics.TOPIC_OF_RECORD_TYPE[record["type"]]
        value = codec.encode(spec, wire_record(record))
        gate.apply_state_record(spec, Inbound(spec.base, 0, n, key, value, now))
    messages = []
    for n, record in enumerate(intent_records(people, intents, clock)):
        key = record_key(record).encode()
        value = codec.encode(topics.INTENTS, wire_record(record))
        messages.append(Inbound(topics.INTENTS.base, 0, n, key, value, now))
    outputs.sent.clear()
    # Keying the messages normalized their addresses in this process; the worker's producers are
    # other processes, so it meets them uncached.
    addresses.clear_caches()
    number_facts.cache_clear()
    return gate, messages, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=200_000)
    parser.add_argument("--intents", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args()
    gate, messages, outputs = build(args.recipients, args.intents)
    hold = HoldResult(caught_up=True, waited_s=0.0)
    logging.disable(logging.WARNING)  # the workload's invalid intents are dead-lettered
    profiler = cProfile.Profile() if args.profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    for msg in messages:
        gate.decide_intent(msg, hold)
    if profiler:
        profiler.disable()
    spent = time.process_time() - started
    print(
        f"{len(messages)} intents, {spent / len(messages) * 1e6:.1f} µs CPU per intent "
        f"({len(messages) / spent:,.0f}/s on one core); outputs {dict(outputs.sent)}"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)


if __name__ == "__main__":
    main()
