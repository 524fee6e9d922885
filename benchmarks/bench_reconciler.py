"""CPU per verdict of the delivery reconciler's verdict path, outside faust and Kafka: every
verdict the gate decided for the bench workload is handed to `DeliveryReconciler.handle` in
batches of 50, each followed by `check()`, on an in-memory table.

`--no-header` drops the verdicts' outcome header (topics.OUTCOME_HEADER), so each verdict's Avro
value is decoded as an older gate's would be: the two runs compare what the header saves. RocksDB,
the changelog record and faust's per-message cost come on top in the worker.

Run: .venv/bin/python benchmarks/bench_reconciler.py [--verdicts N] [--no-header] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import time
from types import SimpleNamespace
from typing import Any

from streams import topics
from streams.devtools.bench.gatecode import build_gate as build
from streams.runtime.deliveries import DeliveryReconciler
from streams.runtime.gate import Inbound
from streams.runtime.ordering import HoldResult
from streams.runtime.statestore import MappingStore
from streams.settings import Settings

BATCH = 50


class _Verdicts:
    """Outputs that keep the verdicts (key, value, headers) and drop the rest."""

    def __init__(self) -> None:
        self.verdicts: list[tuple[bytes | None, bytes, Any]] = []

    def send(
        self, spec: Any, key: bytes | None, value: bytes, on_ack: Any = None, headers: Any = None
    ) -> None:
        if spec.base == topics.VERDICTS.base:
            self.verdicts.append((key, value, headers))


class _Table(MappingStore):
    """The gate's mapping store, with what the reconciler also calls on its write-behind store
    (the worker's is RocksDB, written per batch)."""

    def delete(self, partition: int, key: bytes) -> None:
        self.mapping.pop(key, None)

    def flush(self) -> int:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verdicts", type=int, default=20_000)
    parser.add_argument("--no-header", action="store_true", help="decode every verdict's value")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args()
    gate, messages, _ = build(args.verdicts, args.verdicts)
    outputs = _Verdicts()
    gate.outputs = outputs  # type: ignore[assignment]
    logging.disable(logging.WARNING)  # the workload's invalid intents are dead-lettered
    hold = HoldResult(caught_up=True, waited_s=0.0)
    for msg in messages:
        gate.decide_intent(msg, hold)
    names = {spec.base: spec.base for spec in topics.ALL}
    worker: Any = SimpleNamespace(
        gate=gate, metrics=gate.metrics, settings=Settings(), names=names, outputs=outputs
    )
    reconciler = DeliveryReconciler(worker, table=None, store=_Table({}), ready=lambda: True)  # type: ignore[arg-type]
    now = time.time()
    inbound = [
        Inbound(topics.VERDICTS.base, n % 12, n, key, value, now, None if args.no_header else h)
        for n, (key, value, h) in enumerate(outputs.verdicts)
    ]
    profiler = cProfile.Profile() if args.profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    for first in range(0, len(inbound), BATCH):
        for msg in inbound[first : first + BATCH]:
            reconciler.handle(msg)
        reconciler.check()
    if profiler:
        profiler.disable()
    spent = time.process_time() - started
    path = "value decoded" if args.no_header else "outcome header"
    print(f"{len(inbound)} verdicts ({path}): {spent / len(inbound) * 1e6:.1f} µs CPU per verdict")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)


if __name__ == "__main__":
    main()
