"""Re-drive dead letters: put a dead letter's original bytes back on the topic it came from.

A record dead-lettered for a reason that has passed (the registry was down, a bug since fixed)
is not honoured until it is read again: an opt-out lost to an outage stays lost. Replaying it to
its source topic, with its original key and raw bytes, makes the gate decode and apply it exactly
as if it had just arrived; nothing is re-encoded, so nothing is changed on the way.

Refused, whatever the filter says (each counted under its reason):
- a value the gate truncated when dead-lettering it (the error says "truncated"): its tail is
  gone, and a cut record must never be replayed as if whole;
- a source topic that is not one of the gate's own inputs under the configured prefix: a replay
  must not become a way to write anywhere;
- a dead letter without a value, or from a file (no source topic).

Dead letters are read up to the end offsets seen at the start, so a replayed record that fails
again (and is dead-lettered anew) is not replayed in the same run. Replays are at least once:
running one twice re-publishes twice; the gate treats a repeated state record as a duplicate and
answers a repeated intent id from its memo.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from streams import topics
from streams.kafka_config import client_config
from streams.runtime.gate import DEAD_LETTER_MAX_VALUE
from streams.serdes import SerdesError, WireCodec
from streams.settings import Settings

log = logging.getLogger(__name__)

# Dead letters that record a repair the gate already applied: informational, not replayed unless
# asked for by class.
NOT_REPLAYED_BY_DEFAULT = frozenset({"repaired"})
# On every replayed record: which dead letter it came from (the gate ignores headers).
REPLAYED_FROM_HEADER = "consentgate-replayed-from"

TRUNCATED = "truncated"
FOREIGN_TOPIC = "foreign_topic"
NO_VALUE = "no_value"
NO_SOURCE = "no_source"
UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a replay is about: by error class and by when they were written."""

    error_classes: frozenset[str] | None = None  # None: every class but NOT_REPLAYED_BY_DEFAULT
    since: datetime | None = None  # inclusive, on the dead letter's `at`
    until: datetime | None = None  # exclusive

    def selects(self, letter: dict[str, Any]) -> bool:
        error_class = str(letter.get("error_class") or "")
        if self.error_classes is None:
            if error_class in NOT_REPLAYED_BY_DEFAULT:
                return False
        elif error_class not in self.error_classes:
            return False
        at = letter.get("at")
        if self.since is not None and (at is None or at < self.since):
            return False
        return not (self.until is not None and (at is None or at >= self.until))


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; one without a zone is taken as UTC (dead letters' `at` is UTC)."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def input_topics(settings: Settings) -> frozenset[str]:
    """The only topics a replay may write to: the gate's own inputs, under the prefix."""
    return frozenset(spec.name(settings.topic_prefix) for spec in topics.INPUTS)


def refusal(letter: dict[str, Any], allowed: frozenset[str]) -> str | None:
    """Why this dead letter must not be re-published, or None when it may be."""
    source = letter.get("source_topic")
    if not source:
        return NO_SOURCE
    if source not in allowed:
        return FOREIGN_TOPIC
    value = letter.get("value")
    if value is None:
        return NO_VALUE
    key = letter.get("key")
    # The gate cuts values (and says so in the error) and keys (silently) at the same length.
    if TRUNCATED in str(letter.get("error") or "") or (
        key is not None and len(key) >= DEAD_LETTER_MAX_VALUE
    ):
        return TRUNCATED
    return None


@dataclass
class ReplaySummary:
    """What a replay read, picked, re-published and refused."""

    dry_run: bool = False
    read: int = 0
    selected: int = 0
    published: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    by_class: Counter[str] = field(default_factory=Counter)  # selected, per error class
    by_topic: Counter[str] = field(default_factory=Counter)  # published (or would be), per topic

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "read": self.read,
            "selected": self.selected,
            "published": self.published,
            "failed": self.failed,
            "skipped": dict(sorted(self.skipped.items())),
            "by_class": dict(sorted(self.by_class.items())),
            "by_topic": dict(sorted(self.by_topic.items())),
        }


class Republisher(Protocol):
    def produce(self, topic: str, key: bytes | None, value: bytes, replayed_from: str) -> None: ...

    def flush(self) -> int:
        """Wait for every acknowledgement; return how many records failed."""
        ...


def replay_letters(
    letters: Iterable[dict[str, Any] | None],
    selection: Selection,
    allowed: frozenset[str],
    publisher: Republisher | None,
) -> ReplaySummary:
    """Re-publish the selected, admissible letters (`None` in `letters` is one that could not be
    decoded); without a publisher, only count what would be (a dry run)."""
    summary = ReplaySummary(dry_run=publisher is None)
    for letter in letters:
        summary.read += 1
        if letter is None:
            summary.skipped[UNREADABLE] += 1
            continue
        if not selection.selects(letter):
            continue
        summary.selected += 1
        summary.by_class[str(letter.get("error_class"))] += 1
        reason = refusal(letter, allowed)
        if reason is not None:
            summary.skipped[reason] += 1
            log.warning("not replaying dead letter %s: %s", letter.get("id"), reason)
            continue
        topic = str(letter["source_topic"])
        summary.by_topic[topic] += 1
        if publisher is not None:
            publisher.produce(topic, letter.get("key"), letter["value"], str(letter.get("id")))
        summary.published += 1
    if publisher is not None:
        summary.failed = publisher.flush()
        summary.published -= summary.failed
    return summary


class KafkaRepublisher:
    """Raw bytes back to Kafka: acks=all, idempotent, murmur2 (the partition the key says, as
    every producer of the gate's inputs must use)."""

    def __init__(self, settings: Settings, flush_timeout_s: float = 60.0) -> None:
        from confluent_kafka import Producer

        self._producer = Producer(
            client_config(
                settings,
                **{
                    "client.id": f"{settings.app_id}-dead-letter-replay",
                    "acks": "all",
                    "enable.idempotence": True,
                    "partitioner": "murmur2_random",
                    "linger.ms": 5,
                },
            )
        )
        self._timeout = flush_timeout_s
        self._failed = 0

    def _delivered(self, error: Any, message: Any) -> None:
        if error is not None:
            self._failed += 1
            log.error("replay to %s failed: %s", message.topic(), error)

    def produce(self, topic: str, key: bytes | None, value: bytes, replayed_from: str) -> None:
        while True:
            try:
                self._producer.produce(
                    topic,
                    key=key,
                    value=value,
                    headers=[(REPLAYED_FROM_HEADER, replayed_from.encode())],
                    on_delivery=self._delivered,
                )
                break
            except BufferError:  # the local queue is full: serve acknowledgements until room
                self._producer.poll(0.05)
        self._producer.poll(0)

    def flush(self) -> int:
        left = self._producer.flush(self._timeout)
        return self._failed + int(left)


def read_dead_letters(
    settings: Settings, codec: WireCodec, timeout_s: float = 10.0
) -> Iterator[dict[str, Any] | None]:
    """Every dead letter up to the end offsets of now, decoded (None: one that cannot be).

    Group-less (manual assignment, nothing committed): reading never disturbs a consumer group."""
    from confluent_kafka import Consumer, TopicPartition

    name = topics.DEAD_LETTERS.name(settings.topic_prefix)
    consumer = Consumer(
        client_config(
            settings,
            **{"group.id": f"consentgate-replay-{uuid.uuid4()}", "enable.auto.commit": False},
        )
    )
    try:
        metadata = consumer.list_topics(name, timeout=timeout_s)
        if name not in metadata.topics or metadata.topics[name].error is not None:
            return
        ends: dict[int, int] = {}
        starts: list[TopicPartition] = []
        for partition in metadata.topics[name].partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(name, partition), timeout=timeout_s
            )
            if high > low:
                ends[partition] = high
                starts.append(TopicPartition(name, partition, low))
        consumer.assign(starts)
        while ends:
            message = consumer.poll(timeout_s)
            if message is None:
                raise TimeoutError(f"no dead letter read from {name} for {timeout_s:g}s")
            if message.error():
                continue
            partition, offset = message.partition() or 0, message.offset() or 0
            if partition in ends and offset < ends[partition]:
                try:
                    yield codec.decode(topics.DEAD_LETTERS, message.value())
                except SerdesError:
                    yield None
            if partition in ends and offset + 1 >= ends[partition]:
                del ends[partition]
    finally:
        consumer.close()


def replay(
    settings: Settings, selection: Selection, *, dry_run: bool, codec: WireCodec
) -> ReplaySummary:
    """Read this gate's dead letters and re-publish the selected ones to their source topics."""
    publisher = None if dry_run else KafkaRepublisher(settings)
    return replay_letters(
        read_dead_letters(settings, codec), selection, input_topics(settings), publisher
    )
