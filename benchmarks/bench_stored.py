"""Micro-benchmarks of the consent table value (runtime/stored.py): decoded for every record the
gate reads and encoded for every intent it decides, with a full verdict memo (MEMO_SIZE entries).

Run: .venv/bin/pytest benchmarks/bench_stored.py --benchmark-enable -q -p no:cacheprovider
The value's size is printed and kept in `extra_info["bytes"]`.
"""

from __future__ import annotations

from typing import Any

import pytest

from streams.policy.config import PolicyConfig
from streams.policy.engine import decide, intent_digest
from streams.policy.records import ConsentRecord, SendIntent, parse_record
from streams.policy.state import apply
from streams.runtime import stored
from streams.runtime.stored import MemoEntry, Stored, decode_stored, encode_stored
from tests.builders import consent, intent

CONFIG = PolicyConfig()


def _entry(number: int, state: Any) -> MemoEntry:
    """A realistic memo entry: an allowed promotional intent, as the gate stores it."""
    record = parse_record(intent(id=f"m-{number:09d}", campaign="summer-2026"))
    assert isinstance(record, SendIntent)
    verdict = decide(record, state, {}, CONFIG).verdict
    if hasattr(MemoEntry, "of"):  # format 3
        return MemoEntry.of(verdict, record, intent_digest(record))
    return MemoEntry(  # the same benchmark runs against older formats
        record.id, verdict.decision, verdict.reason, verdict.reasons,
        int(verdict.decided_at.timestamp() * 1000), verdict.policy_version,
        intent_digest(record),
    )  # fmt: skip


@pytest.fixture(scope="module")
def value() -> Stored:
    grant = parse_record(consent(id="c-000000001"))
    assert isinstance(grant, ConsentRecord)
    state = apply(None, grant, CONFIG)
    memo = tuple(_entry(n, state) for n in range(stored.MEMO_SIZE))
    return Stored(state, memo)


def test_encode_stored(benchmark: Any, value: Stored) -> None:
    data = benchmark(encode_stored, value)
    benchmark.extra_info["bytes"] = len(data)
    benchmark.extra_info["format"] = stored.FORMAT
    print(f"\nformat {stored.FORMAT}: {len(data)} bytes with {len(value.memo)} memo entries")
    assert decode_stored(data) == value


def test_decode_stored(benchmark: Any, value: Stored) -> None:
    data = encode_stored(value)
    decoded = benchmark(decode_stored, data)
    assert decoded == value


def test_decode_and_recall(benchmark: Any, value: Stored) -> None:
    """The intent path: decode, then look for the intent's id (a new intent: not there)."""
    data = encode_stored(value)
    assert benchmark(lambda: decode_stored(data).recall("m-new")) is None


def test_decode_every_entry(benchmark: Any, value: Stored) -> None:
    """The opt-out path when it changed the state: every entry decoded for late opt-outs."""
    data = encode_stored(value)
    memo = benchmark(lambda: decode_stored(data).memo)
    assert memo == value.memo
