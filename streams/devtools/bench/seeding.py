"""Step 1's state load, in child processes: the consent records onto their topics, and the table
they build onto the table's changelog, written as the worker would write it.

The worker's agent would take minutes to apply a million state records on a small machine; the
children apply them with the gate's own code (`Gate.apply_state_record` on a dict) instead, so
that the cold start that follows rebuilds a table of realistic size from a realistic changelog.
Every process derives the same records from the same seeds; each child handles one share of the
keys (CRC32 of the key), so no recipient's records are split between two children.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from itertools import islice
from typing import Any

from streams import topics
from streams.devtools.bench.errors import BenchError
from streams.devtools.bench.kafkaio import produce
from streams.settings import Settings

SEED_CHILDREN = 2
TICK_MS = 3  # streams.devtools.workload.Clock.tick's default step
BULK_PRODUCER: dict[str, Any] = {
    "linger.ms": 50,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
}


def state_stream(recipients: list[Any]) -> tuple[list[dict[str, Any]], Iterator[dict[str, Any]]]:
    """Partner records and the (lazy) consent records, as every process of a run sees them."""
    from streams.devtools.workload import Clock, consent_records, partner_records

    clock = Clock()
    return partner_records(clock), consent_records(recipients, clock)


def clock_after_state(consent_count: int, partner_count: int) -> Any:
    """The workload clock as it stands once the state records have been generated."""
    from streams.devtools.workload import BASE_TIME, Clock

    ticks = consent_count + partner_count
    return Clock(BASE_TIME + timedelta(milliseconds=TICK_MS * ticks))


def share_of(key: str, shares: int) -> int:
    """Which child handles `key`: stable across processes (unlike `hash`)."""
    return zlib.crc32(key.encode()) % shares


class _NoAgreements:
    current: Any = None


class _CountingOutputs:
    """Outputs of offline state application: nothing is sent, dead letters are counted."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def send(self, spec: Any, key: bytes | None, value: bytes, on_ack: Any = None) -> None:
        self.sent[spec.base] += 1


class ChangelogWriter(dict[bytes, bytes]):
    """The table as a dict that also writes every assignment to the table's changelog topic,
    as faust does for the worker's table."""

    def __init__(self, producer: Any, topic: str) -> None:
        super().__init__()
        self._producer = producer
        self._topic = topic
        self.writes = 0

    def __setitem__(self, key: bytes, value: bytes) -> None:
        super().__setitem__(key, value)
        self.writes += 1
        produce(self._producer, self._topic, value, key)


def _offline_gate(settings: Settings, codec: Any, store: dict[bytes, bytes], outputs: Any) -> Any:
    """The gate's state application over `store`, with no agreements and counted outputs."""
    from streams.metrics import GateMetrics
    from streams.policy.state import Agreements
    from streams.runtime.gate import Gate
    from streams.runtime.statestore import MappingStore

    agreements = _NoAgreements()
    agreements.current = Agreements()
    prefix = settings.topic_prefix
    return Gate(
        codec=codec,
        store=MappingStore(store),
        agreements=agreements,
        outputs=outputs,
        metrics=GateMetrics(),
        config=settings.policy,
        names={spec.base: spec.name(prefix) for spec in topics.ALL},
    )


class _Share:
    """One child's share of the consent records: produced, applied, counted."""

    def __init__(self, settings: Settings, changelog_topic: str, share: int, shares: int) -> None:
        from confluent_kafka import Producer

        from connectors.producer import producer_config, record_key, wire_record
        from streams.runtime.gate import Inbound
        from streams.serdes import codec_for

        self.record_key, self.wire_record, self.inbound = record_key, wire_record, Inbound
        self.share, self.shares, self.prefix = share, shares, settings.topic_prefix
        self.codec = codec_for(settings)
        self.codec.prefetch((topics.CONSENT, topics.OPTOUT))
        self.producer = Producer(producer_config(settings.kafka_bootstrap_servers, **BULK_PRODUCER))
        self.store = ChangelogWriter(self.producer, changelog_topic)
        self.outputs = _CountingOutputs()
        self.gate = _offline_gate(settings, self.codec, self.store, self.outputs)
        self.kinds: Counter[str] = Counter()
        self.opted_out: set[str] = set()

    def apply(self, n: int, record: dict[str, Any], now: float) -> None:
        key = self.record_key(record)
        if share_of(key, self.shares) != self.share:
            return
        spec = topics.TOPIC_OF_RECORD_TYPE[record["type"]]
        value = self.codec.encode(spec, self.wire_record(record))
        raw_key, topic = key.encode(), spec.name(self.prefix)
        produce(self.producer, topic, value, raw_key)
        self.producer.poll(0)
        self.gate.apply_state_record(spec, self.inbound(topic, 0, n, raw_key, value, now))
        self.kinds[record["type"]] += 1
        if record["type"] == "optout":
            self.opted_out.add(key)

    def result(self, started: float) -> dict[str, Any]:
        """The share's counts once everything it produced is acknowledged (or 300 s passed)."""
        remaining = self.producer.flush(300)
        return {
            "share": self.share,
            "consent": self.kinds["consent"],
            "optout": self.kinds["optout"],
            "opted_out_recipients": len(self.opted_out),
            "changelog_records": self.store.writes,
            "table_keys": len(self.store),
            "dead_letters": self.outputs.sent[topics.DEAD_LETTERS.base],
            "unflushed": remaining,
            "seconds": time.monotonic() - started,
        }


def seed_state_main(
    share: int,
    shares: int,
    settings: Settings,
    changelog_topic: str,
    recipient_count: int,
    consent_count: int,
    results: Any,
) -> None:
    """Child process: this share of the consent records onto their topics, and the table state
    they build (the gate's own code) onto the changelog."""
    from streams.devtools.workload import make_recipients

    logging.getLogger("streams.runtime.gate").setLevel(logging.ERROR)  # dead letters are counted
    work = _Share(settings, changelog_topic, share, shares)
    started = time.monotonic()
    _, consents = state_stream(make_recipients(recipient_count))
    now = time.time()
    for n, record in enumerate(islice(consents, consent_count)):
        work.apply(n, record, now)
    results.send(work.result(started))


class Seeders:
    """The seeding children of one run, started together, their results collected in order."""

    def __init__(self, settings: Settings, changelog_topic: str, sizes: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._children: list[tuple[Any, Any]] = []
        for share in range(SEED_CHILDREN):
            receive, send = context.Pipe(duplex=False)
            child = context.Process(
                target=seed_state_main,
                args=(
                    share, SEED_CHILDREN, settings, changelog_topic, sizes.recipients,
                    sizes.consent_records, send,
                ),
                name=f"consentgate-bench-seed-{share}",
                daemon=True,
            )  # fmt: skip
            self._children.append((child, receive))

    def start(self) -> Seeders:
        for child, _ in self._children:
            child.start()
        return self

    def results(self) -> list[dict[str, Any]]:
        """Each child's result, waiting for it; a child that dies first fails the run."""
        found = []
        for child, receive in self._children:
            while not receive.poll(1.0):
                if not child.is_alive():
                    raise BenchError(f"a seeding child exited ({child.exitcode})")
            found.append(receive.recv())
            child.join(30)
        return found
