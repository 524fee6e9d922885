"""Shared by the fault tests: a paced intent stream, a verdict reader with Kafka timestamps, the
checks every fault must pass (nothing lost, nothing contradicting, no allow after an opt-out was
acknowledged), and a private embedded stack a test may stop and start.

Times are wall-clock seconds (`time.time()`): verdicts carry the worker's producer timestamp, so a
gap or a handover is measured where it happened, not when the test's reader caught up.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from connectors.producer import GateProducer
from streams import topics
from streams.kafka_config import client_config
from streams.settings import Settings
from tests.gatekit import SmsRecipients


def report(name: str, **figures: Any) -> None:
    """One JSON line per test, for `pytest -s` and the note's figures."""
    print("\n" + json.dumps({name: figures}, default=str), flush=True)


@dataclass
class IntentStream:
    """Intents at a steady rate in a thread, an opt-out every `optout_every` intents.

    Remembers, per intent, when it was handed to the producer and its partition (from the
    acknowledgement), and per opted-out recipient when the opt-out was acknowledged."""

    producer: GateProducer
    people: SmsRecipients
    recipients: int
    rate: float
    optout_every: int = 0
    prefix: str = "i"
    sent_at: dict[str, float] = field(default_factory=dict)
    recipient_of: dict[str, int] = field(default_factory=dict)
    partition_of: dict[str, int] = field(default_factory=dict)
    offset_of: dict[str, int] = field(default_factory=dict)
    optout_acked_at: dict[int, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> IntentStream:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self, flush_timeout: float = 120.0) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(flush_timeout + 30)
        self.producer.flush(flush_timeout)

    @property
    def produced(self) -> int:
        return len(self.sent_at)

    def _run(self) -> None:
        started = time.monotonic()
        n = 0
        next_optout = 0
        while not self._stop.is_set():
            due = started + n / self.rate
            wait = due - time.monotonic()
            if wait > 0:
                self.producer.poll(min(wait, 0.05))
                continue
            intent_id = f"{self.prefix}{n}"
            who = n % self.recipients
            self._send_intent(intent_id, who)
            if self.optout_every and n % self.optout_every == 0 and next_optout < self.recipients:
                self._send_optout(next_optout)
                next_optout += 7  # a spread of recipients, none twice
            n += 1

    def _send_intent(self, intent_id: str, who: int) -> None:
        spec, key, value = self.producer.encode(self.people.intent(intent_id, who))

        def acked(error: Any, message: Any) -> None:
            if error is not None:
                self.failures.append(f"{intent_id}: {error}")
            else:
                self.partition_of[intent_id] = message.partition()
                self.offset_of[intent_id] = message.offset()

        self.recipient_of[intent_id] = who
        self.sent_at[intent_id] = time.time()
        self.producer.send_encoded(spec, key, value, acked)

    def _send_optout(self, who: int) -> None:
        spec, key, value = self.producer.encode(self.people.optout(who))

        def acked(error: Any, message: Any) -> None:
            if error is not None:
                self.failures.append(f"opt-out {who}: {error}")
            else:
                self.optout_acked_at[who] = time.time()

        self.producer.send_encoded(spec, key, value, acked)


class TimedVerdicts:
    """Every verdict of one gate, with the worker's producer timestamp (seconds)."""

    def __init__(self, settings: Settings, codec: Any) -> None:
        self.codec = codec
        self.records: list[tuple[str, str, str, float]] = []  # id, decision, reason, timestamp
        name = topics.VERDICTS.name(settings.topic_prefix)
        self._consumer = Consumer(
            client_config(
                settings, **{"group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False}
            )
        )
        partitions = self._consumer.list_topics(name, timeout=30).topics[name].partitions
        self._consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in partitions])

    def poll(self, seconds: float = 0.2) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for message in self._consumer.consume(1000, 0.05):
                if message.error():
                    continue
                verdict = self.codec.decode(topics.VERDICTS, message.value())
                stamp = message.timestamp()[1] / 1000.0
                self.records.append((verdict["id"], verdict["decision"], verdict["reason"], stamp))

    def ids(self) -> set[str]:
        return {r[0] for r in self.records}

    def wait_for_ids(self, wanted: set[str], timeout: float) -> set[str]:
        """Poll until every id in `wanted` has a verdict or `timeout` passes; the missing ones."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            missing = wanted - self.ids()
            if not missing:
                return set()
            self.poll(0.5)
        return wanted - self.ids()

    def close(self) -> None:
        self._consumer.close()


def check_stream(stream: IntentStream, verdicts: TimedVerdicts) -> dict[str, Any]:
    """Lost, contradicting and wrongly allowed intents of a stream (all must be zero)."""
    decisions: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for intent_id, decision, reason, _ in verdicts.records:
        decisions[intent_id].add((decision, reason))
    produced = set(stream.sent_at)
    lost = sorted(produced - set(decisions))
    contradicting = sorted(i for i in produced if len(decisions.get(i, ())) > 1)
    wrong_allow = sorted(
        i
        for i in produced
        if (who := stream.recipient_of[i]) in stream.optout_acked_at
        and stream.sent_at[i] > stream.optout_acked_at[who]
        and ("allow" in {d for d, _ in decisions.get(i, ())})
    )
    return {
        "produced": len(produced),
        "verdicts": len(verdicts.records),
        "duplicates": len(verdicts.records) - len(decisions),
        "lost": len(lost),
        "contradicting": len(contradicting),
        "wrong_allow": len(wrong_allow),
        "examples": (lost + contradicting + wrong_allow)[:5],
    }


def explain_lost(settings: Settings, stream: IntentStream, verdicts: TimedVerdicts) -> str:
    """Where the intents without a verdict are, what the group committed, what was
    dead-lettered: the evidence a failure report needs."""
    lost = set(stream.sent_at) - verdicts.ids()
    where: dict[int, list[int]] = defaultdict(list)
    for intent_id in lost:
        where[stream.partition_of.get(intent_id, -1)].append(stream.offset_of.get(intent_id, -1))
    name = topics.INTENTS.name(settings.topic_prefix)
    consumer = Consumer(client_config(settings, **{"group.id": settings.app_id}))
    try:
        tps = [TopicPartition(name, p) for p in sorted(where) if p >= 0]
        committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
        dead = topics.DEAD_LETTERS.name(settings.topic_prefix)
        partitions = consumer.list_topics(dead, timeout=10).topics[dead].partitions
        letters = sum(
            consumer.get_watermark_offsets(TopicPartition(dead, p), timeout=10)[1]
            for p in partitions
        )
    finally:
        consumer.close()
    spans = {p: (min(o), max(o), len(o)) for p, o in sorted(where.items())}
    return f"lost (first, last, count) per partition {spans}; committed {committed}; " + (
        f"{letters} dead letters"
    )


def longest_gap(stamps: list[float], start: float, end: float) -> float:
    """The longest time between consecutive verdicts within [start, end]."""
    inside = sorted(s for s in stamps if start <= s <= end)
    return max((b - a for a, b in itertools.pairwise(inside)), default=end - start)


def first_after(
    verdicts: TimedVerdicts, stream: IntentStream, partitions: set[int], moment: float
) -> dict[int, float]:
    """Per partition, seconds from `moment` to the first verdict after it for an intent there."""
    first: dict[int, float] = {}
    for intent_id, _, _, stamp in verdicts.records:
        partition = stream.partition_of.get(intent_id)
        if partition in partitions and stamp > moment:
            first[partition] = min(first.get(partition, float("inf")), stamp - moment)
    return first


ROW = re.compile(r"\|\s*(\S+)\s*\|\s*\{([^}]*)\}\s*\|")


def assigned_partitions(log_path: Path, topic: str) -> set[int]:
    """The partitions of `topic` in the last assignment a faust worker logged."""
    text = log_path.read_text(errors="replace")
    marker = "Setting newly assigned partitions"
    last = text.rfind(marker)
    if last < 0:
        return set()
    found: set[int] = set()
    for line in text[last:].splitlines()[1:40]:
        match = ROW.search(line)
        if match and match.group(1) == topic:
            for part in match.group(2).split(","):
                low, _, high = part.strip().partition("-")
                if low:
                    found.update(range(int(low), int(high or low) + 1))
            break
    return found


@dataclass(frozen=True)
class StackHandle:
    """A private stack's endpoints, with `settings()` like the session fixture's stack."""

    bootstrap_servers: str
    schema_registry_url: str

    def settings(self, **changes: Any) -> Settings:
        return Settings().replace(
            kafka_bootstrap_servers=self.bootstrap_servers,
            schema_registry_url=self.schema_registry_url,
            **changes,
        )
