"""The delivery table's retention pass on a real faust RocksDB table: the whole table at once
(what the sweep did before: `list(table.data.items())` on the event loop) against one slice of
SWEEP_SLICE entries (what each timer step does now, `faust_compat.scan_slice`).

Run: .venv/bin/pytest benchmarks/bench_sweep.py --benchmark-enable -q -p no:cacheprovider
ENTRIES entries, one verdict's worth each; a slice's time is the longest the event loop stalls
per step, the whole pass's time what it stalled once per SWEEP_INTERVAL_S before.
"""

from __future__ import annotations

from typing import Any

import faust
import pytest

from streams.policy.deliveries import IntentOutcome, Reconciliation, encode_entry, header
from streams.runtime import faust_compat
from streams.runtime.deliveries import SWEEP_SLICE

ENTRIES = 200_000
PARTITIONS = 4


@pytest.fixture(scope="module")
def table(tmp_path_factory: Any) -> Any:
    app = faust.App("bench-sweep", broker="kafka://127.0.0.1:9", store="rocksdb://",
                    datadir=str(tmp_path_factory.mktemp("sweep")))  # fmt: skip
    table = app.Table("deliveries", default=None, key_type=bytes, value_type=bytes,
                      partitions=PARTITIONS)  # fmt: skip
    for partition in range(PARTITIONS):
        items: list[tuple[bytes, bytes | None]] = []
        for n in range(partition, ENTRIES, PARTITIONS):
            outcome = IntentOutcome(f"m{n:09d}", "allow", "CONSENT_GRANTED", "sms",
                                    "acme", 1_780_000_000_000 + n, "k1:" + "x" * 26)  # fmt: skip
            entry = Reconciliation(outcome.intent_id).with_verdict(outcome, 1_780_000_000_000 + n)
            items.append((outcome.intent_id.encode(), encode_entry(partition, entry)))
        faust_compat.write_partition(table, partition, items)
    topic = faust_compat.changelog_topic_name(table)
    actives = {faust.types.TP(topic, p) for p in range(PARTITIONS)}
    app.assignor.assigned_actives = lambda: actives  # type: ignore[method-assign]
    return table


def _headers(items: Any) -> int:
    waiting = 0
    for _, value in items:
        waiting += header(value)[1]
    return waiting


def test_whole_table_at_once(benchmark: Any, table: Any) -> None:
    benchmark.extra_info["entries"] = ENTRIES
    benchmark.pedantic(lambda: _headers(list(table.data.items())), rounds=3, iterations=1)


def test_one_slice(benchmark: Any, table: Any) -> None:
    cursor = faust_compat.scan_slice(table, None, ENTRIES // 2)[1]  # mid-table, like a step
    benchmark.extra_info["entries"] = SWEEP_SLICE
    benchmark(lambda: _headers(faust_compat.scan_slice(table, cursor, SWEEP_SLICE)[0]))
