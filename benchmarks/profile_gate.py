"""CPU per intent of the gate's own code, outside faust and Kafka: decode, validate, look up,
decide, remember, encode the verdict and violation.

The same measurement as `consentgate bench`'s "gate's code alone" step
(`streams.devtools.bench.gatecode`), on its own and with an optional cProfile: the bench
workload's state applied to an in-memory table with the gate's own code, then every intent
decided by `Gate.decide_intent` with outputs that only count. The figure is the floor under the
worker's CPU per verdict: faust, librdkafka and RocksDB come on top.

Run: .venv/bin/python benchmarks/profile_gate.py [--recipients N] [--intents N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats

from streams.devtools.bench.gatecode import build_gate, decide_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=200_000)
    parser.add_argument("--intents", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args()
    gate, messages, outputs = build_gate(args.recipients, args.intents)
    logging.disable(logging.WARNING)  # the workload's invalid intents are dead-lettered
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    spent = decide_all(gate, messages)
    if profiler:
        profiler.disable()
    print(
        f"{len(messages)} intents, {spent / len(messages) * 1e6:.1f} µs CPU per intent "
        f"({len(messages) / spent:,.0f}/s on one core); outputs {dict(outputs.sent)}"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)


if __name__ == "__main__":
    main()
