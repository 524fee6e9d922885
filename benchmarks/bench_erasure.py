"""What the erasure check (issue 15 §6) adds to every intent: the marker lookup, one keyed
pseudonym (HMAC-SHA256) and one table read per configured key, against RocksDB as the worker
has it (rocksdict, raw mode) with 10,000 recipients and 1,000 markers; and, for an erased
recipient, the erased view and the decision on it next to a plain decision.

Run: .venv/bin/pytest benchmarks/bench_erasure.py --benchmark-enable -q -p no:cacheprovider
`extra_info["us_per_intent"]`: compare `test_verdict_ref_only` (before: the pseudonym every
verdict already carried) with `test_erasure_check_and_verdict_ref` (after: the lookup, then the
same pseudonym from the cache the lookup filled).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.policy.config import PolicyConfig
from streams.policy.engine import decide
from streams.policy.erasure import ErasureMarker, encode_marker, erased_view, marker_key
from streams.policy.pseudonym import Pseudonyms, parse_keys
from streams.policy.records import ConsentRecord, SendIntent, parse_record
from streams.policy.state import Agreements, apply
from streams.runtime.erasure import lookup
from tests.builders import consent, intent

CONFIG = PolicyConfig()
ONE_KEY = Pseudonyms(parse_keys("k1:" + base64.b64encode(b"1" * 32).decode()))
RECIPIENTS = 10_000
ERASED = 1_000


def _phone(n: int) -> str:
    return f"+1415{5550000 + n:07d}"


class RocksStore:
    """The worker's read path without faust: one RocksDB database, raw bytes."""

    def __init__(self, path: Path) -> None:
        import rocksdict

        options = rocksdict.Options(raw_mode=True)
        self.db = rocksdict.Rdict(str(path), options)

    def get(self, partition: int, key: bytes) -> bytes | None:
        value: bytes | None = self.db.get(key)
        return value

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.db[key] = value


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RocksStore]:
    found = RocksStore(tmp_path_factory.mktemp("rocks") / "db")
    for n in range(RECIPIENTS):
        found.put(0, _phone(n).encode(), b"\x02" + bytes(200))
    for n in range(RECIPIENTS, RECIPIENTS + ERASED):
        marker = encode_marker(ErasureMarker(1_780_000_000_000, f"e{n}"))
        found.put(0, marker_key(ONE_KEY.ref(_phone(n))), marker)
    yield found
    found.db.close()


def _per_intent(benchmark: Any, run: Any, count: int) -> None:
    benchmark(run)
    if benchmark.stats is not None:
        benchmark.extra_info["us_per_intent"] = round(benchmark.stats.stats.mean / count * 1e6, 2)


ADDRESSES = [_phone(n) for n in range(RECIPIENTS)]
KEYS_1 = "k1:" + base64.b64encode(b"1" * 32).decode()
KEYS_2 = "k2:" + base64.b64encode(b"2" * 32).decode() + "," + KEYS_1


def test_verdict_ref_only(benchmark: Any) -> None:
    """Before erasure: what every intent already paid, its verdict's recipient_ref (fresh keys
    each round: every address seen for the first time, the worst case)."""

    def run() -> None:
        pseudonyms = Pseudonyms(parse_keys(KEYS_1))
        for address in ADDRESSES:
            pseudonyms.ref(address)

    _per_intent(benchmark, run, len(ADDRESSES))


@pytest.mark.parametrize("keys", [KEYS_1, KEYS_2], ids=["one_key", "two_keys"])
def test_erasure_check_and_verdict_ref(benchmark: Any, store: RocksStore, keys: str) -> None:
    """After: the marker lookup (not erased: the usual case), then the verdict's ref."""

    def run() -> None:
        pseudonyms = Pseudonyms(parse_keys(keys))
        for address in ADDRESSES:
            lookup(store, 0, address, pseudonyms)
            pseudonyms.ref(address)

    _per_intent(benchmark, run, len(ADDRESSES))


def test_lookup_erased(benchmark: Any, store: RocksStore) -> None:
    erased = [_phone(n) for n in range(RECIPIENTS, RECIPIENTS + ERASED)]

    def run() -> None:
        for address in erased:
            assert lookup(store, 0, address, ONE_KEY) is not None

    _per_intent(benchmark, run, len(erased))


@pytest.fixture(scope="module")
def decided() -> tuple[SendIntent, Any]:
    grant = parse_record(consent(id="g1", at="2026-06-01T18:30:00Z"))
    assert isinstance(grant, ConsentRecord)
    record = parse_record(intent(id="m1"))
    assert isinstance(record, SendIntent)
    return record, apply(None, grant, CONFIG)


def test_decide_plain(benchmark: Any, decided: tuple[SendIntent, Any]) -> None:
    record, state = decided
    verdict = benchmark(lambda: decide(record, state, Agreements(), CONFIG).verdict)
    assert verdict.reason == "CONSENT_VALID"


def test_decide_erased(benchmark: Any, decided: tuple[SendIntent, Any]) -> None:
    record, state = decided
    marker = ErasureMarker(1_780_336_800_000, "e1")  # 2026-06-01T18:00Z: the grant is after

    def run() -> Any:
        view = erased_view(state, marker, record.channel, CONFIG)
        return decide(record, view, Agreements(), CONFIG).verdict

    assert benchmark(run).reason == "CONSENT_VALID"
