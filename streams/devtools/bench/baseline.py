"""Step 3's baseline: what Python and Kafka allow on this machine, with the gate's serialization.

A plain confluent-kafka loop in a child process consumes the intents, decodes each with
`WireCodec.decode`, encodes a verdict-shaped record with `WireCodec.encode` and produces it: no
decision, no state. The parent watches its CPU time and peak memory while it runs.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from streams import topics
from streams.devtools.bench.child import run_child
from streams.settings import Settings

BASELINE_TOPIC = "bench-baseline-verdicts"


UNCOMPRESSED: dict[str, Any] = {"compression.type": "none"}


def baseline_verdict(decoded: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A verdict-shaped record for a decoded intent, without deciding anything."""
    return {
        "id": decoded["id"],
        "decision": "allow",
        "reason": "BASELINE",
        "reasons": ["BASELINE"],
        "policy_version": "baseline",
        "decided_at": now,
        "channel": decoded.get("channel"),
        "sender": decoded.get("sender"),
        "category": decoded.get("category"),
        "rules_evaluated": [],
        "intent_at": decoded.get("at"),
        "detail": None,
    }


class _Loop:
    """The baseline's consume / decode / encode / produce loop and its counters."""

    def __init__(self, settings: Settings, out_topic: str) -> None:
        from confluent_kafka import Consumer, Producer

        from connectors.producer import producer_config
        from streams.serdes import codec_for

        bootstrap, prefix = settings.kafka_bootstrap_servers, settings.topic_prefix
        self.codec = codec_for(settings)
        self.codec.prefetch((topics.INTENTS, topics.VERDICTS))
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"{prefix}baseline",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        # acks=all and idempotence like every consentgate producer; no compression, like the gate's.
        self.producer = Producer(producer_config(bootstrap, **UNCOMPRESSED))
        self.consumer.subscribe([topics.INTENTS.name(prefix)])
        self.out_topic = out_topic
        self.consumed = self.produced = self.undecodable = 0

    def handle(self, batch: list[Any]) -> None:
        """One batch; the per-record path is kept as tight as a hand-written loop would be (local
        names, no helper calls), since its cost is the number the gate is compared with."""
        from streams.serdes import DecodeError

        now = datetime.now(UTC)
        produce_, encode, decode = self.producer.produce, self.codec.encode, self.codec.decode
        out_topic = self.out_topic
        consumed = produced = undecodable = 0
        for message in batch:
            if message.error():
                continue
            consumed += 1
            try:
                decoded = decode(topics.INTENTS, message.value())
            except DecodeError:
                undecodable += 1
                continue
            value = encode(topics.VERDICTS, baseline_verdict(decoded, now))
            key = decoded["id"].encode()
            while True:
                try:
                    produce_(out_topic, value, key)
                    break
                except BufferError:
                    self.producer.poll(0.01)
            produced += 1
        self.producer.poll(0)
        self.consumed += consumed
        self.produced += produced
        self.undecodable += undecodable

    def run(self, expected: int) -> None:
        last_commit = time.monotonic()
        try:
            while self.consumed < expected:
                self.handle(self.consumer.consume(1000, 0.5))
                if time.monotonic() - last_commit >= 1.0:
                    self.consumer.commit(asynchronous=True)
                    last_commit = time.monotonic()
            self.producer.flush(60)
            self._commit_last()
        finally:
            self.consumer.close()

    def _commit_last(self) -> None:
        """Commit what is left; an async commit may already have taken it all (librdkafka then
        says _NO_OFFSET: nothing to commit, which is fine)."""
        from confluent_kafka import KafkaError, KafkaException

        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                raise


def baseline_main(settings: Settings, out_topic: str, expected: int, results: Any) -> None:
    """The baseline loop (runs in a child process): consume, decode, encode, produce."""
    loop = _Loop(settings, out_topic)
    started = time.monotonic()
    loop.run(expected)
    results.send(
        {
            "consumed": loop.consumed,
            "produced": loop.produced,
            "undecodable": loop.undecodable,
            "wall_s": round(time.monotonic() - started, 2),
        }
    )


def run_baseline_child(
    settings: Settings, out_topic: str, expected: int
) -> tuple[dict[str, Any], float, int]:
    """Runs the baseline child to its end: (its result, its CPU seconds, its peak RSS in kB)."""
    return run_child(baseline_main, (settings, out_topic, expected), "baseline")
