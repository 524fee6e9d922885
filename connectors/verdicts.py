"""Ask the gate before sending: produce an intent, get its verdict back.

    async with VerdictClient.for_settings(Settings.from_env()) as gate:
        verdict = await gate.check(intent, timeout=2.0)
    if verdict is None or not verdict.allowed:
        ...  # do not send

How a client finds its own verdict without reading everyone's. The worker writes each verdict
keyed by the intent's id, with the murmur2 partitioner (`streams.kafka_config`), so the partition
is a function of the id: `connectors.partitioning.partition_for`. Before producing the intent, the
client reads that partition's end offset; it then reads that one partition from there, by
explicit assignment (no consumer group, no rebalance, nothing committed), and keeps the record
whose key is the id. The chosen alternative to a reply topic or a reply header: the worker stays
as it is (it copies no headers and has one verdicts topic), every verdict is still on the one
topic the delivery side and the audit read, and a client costs the broker one fetch of one
partition, whatever the topic's traffic. The price: the client reads the other verdicts of that
partition from the offset it started at (about 1/partitions of the traffic while it waits), and
an intent id must be unique (the gate decides an id once; a repeated id gets no new verdict, so
its check ends with None).

No verdict within the timeout, a verdict that cannot be decoded, or an intent Kafka did not take
(`PublishError`) all mean the same to the caller: do not send. One consumer thread serves every
concurrent check; `check` is async, `check_sync` is for code without an event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from connectors.partitioning import partition_for
from connectors.producer import GateProducer, PublishError
from streams.serdes import WireCodec
from streams.topics import VERDICTS

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's decision on one intent (the `verdicts` record's contract fields)."""

    id: str
    decision: str
    reason: str
    reasons: tuple[str, ...]
    policy_version: str
    decided_at: datetime

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Verdict:
        return cls(
            id=str(record["id"]),
            decision=str(record["decision"]),
            reason=str(record["reason"]),
            reasons=tuple(record.get("reasons") or ()),
            policy_version=str(record.get("policy_version") or ""),
            decided_at=record["decided_at"],
        )


@dataclass(slots=True)
class _Wait:
    """One check in flight: the partition its verdict lands on, where to read it from (None:
    the partition was already being read when the check began), and the answer."""

    partition: int
    offset: int | None
    future: concurrent.futures.Future[Verdict | None]


class VerdictClient:
    """Produces intents (through `GateProducer`, acks=all) and returns their verdicts."""

    def __init__(
        self,
        producer: GateProducer,
        codec: WireCodec,
        consumer_config: Mapping[str, Any],
        *,
        topic_prefix: str = "",
    ) -> None:
        self._producer = producer
        self._codec = codec
        self._topic = VERDICTS.name(topic_prefix)
        self._consumer = Consumer(
            {
                **consumer_config,
                # assign() only: the group id is never joined and nothing is committed
                "group.id": f"consentgate-verdict-client-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                "fetch.wait.max.ms": 20,
            }
        )
        self._lock = threading.Lock()
        self._waiting: dict[str, _Wait] = {}
        self._assigned: set[int] = set()  # being read, because some check waits on them
        self._partitions: int | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="verdict-reader", daemon=True)
        self._thread.start()

    @classmethod
    def for_settings(cls, settings: Any, codec: WireCodec | None = None) -> VerdictClient:
        """A client on the settings' cluster, registry, topic prefix and credentials."""
        from streams.kafka_config import security_config
        from streams.serdes import codec_for

        codec = codec or codec_for(settings)
        producer = GateProducer.for_settings(settings, codec)
        consumer = {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            **security_config(settings),
        }
        return cls(producer, codec, consumer, topic_prefix=settings.topic_prefix)

    # -- asking

    async def check(
        self, intent: Mapping[str, Any], timeout: float = DEFAULT_TIMEOUT_S
    ) -> Verdict | None:
        """Produce `intent` and return its verdict, or None when none came within `timeout`
        seconds (do not send). Raises `PublishError` when the intent cannot be encoded or Kafka
        refused it."""
        deadline = time.monotonic() + timeout
        wait = await asyncio.to_thread(self._begin, intent)
        try:
            return await asyncio.wait_for(
                asyncio.wrap_future(wait.future), max(deadline - time.monotonic(), 0.0)
            )
        except TimeoutError:
            return None
        finally:
            self._forget(str(intent["id"]), wait)

    def check_sync(
        self, intent: Mapping[str, Any], timeout: float = DEFAULT_TIMEOUT_S
    ) -> Verdict | None:
        """`check` for code without an event loop: blocks up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        wait = self._begin(intent)
        try:
            return wait.future.result(max(deadline - time.monotonic(), 0.0))
        except concurrent.futures.TimeoutError:
            return None
        finally:
            self._forget(str(intent["id"]), wait)

    def partition_of(self, intent_id: str) -> int:
        """The verdicts partition the intent's verdict will be on."""
        return partition_for(intent_id.encode(), self._partition_count())

    def _begin(self, intent: Mapping[str, Any]) -> _Wait:
        intent_id = intent.get("id")
        if not isinstance(intent_id, str) or not intent_id:
            raise PublishError("an intent needs a non-empty string id to be matched to its verdict")
        spec, key, value = self._producer.encode({**intent, "type": "intent"})
        wait = self._watch(intent_id)
        self._producer.send_encoded(spec, key, value, lambda e, m: self._acked(wait, e, m))
        self._wake.set()
        return wait

    def _watch(self, intent_id: str) -> _Wait:
        """Register the check before its intent exists, so its verdict cannot be missed."""
        partition = self.partition_of(intent_id)
        future: concurrent.futures.Future[Verdict | None] = concurrent.futures.Future()
        with self._lock:
            if intent_id in self._waiting:
                raise PublishError(f"intent {intent_id!r} is already being checked")
            if partition in self._assigned:  # read from before now already: no offset needed
                wait = _Wait(partition, None, future)
                self._waiting[intent_id] = wait
                return wait
        _, end = self._consumer.get_watermark_offsets(
            TopicPartition(self._topic, partition), timeout=10, cached=False
        )
        with self._lock:
            if intent_id in self._waiting:
                raise PublishError(f"intent {intent_id!r} is already being checked")
            wait = _Wait(partition, end, future)
            self._waiting[intent_id] = wait
        return wait

    def _acked(self, wait: _Wait, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            _settle(wait.future, exception=PublishError(f"Kafka refused the intent: {error}"))

    def _forget(self, intent_id: str, wait: _Wait) -> None:
        with self._lock:
            if self._waiting.get(intent_id) is wait:
                del self._waiting[intent_id]

    def _partition_count(self) -> int:
        if self._partitions is None:
            metadata = self._consumer.list_topics(self._topic, timeout=10)
            topic = metadata.topics.get(self._topic)
            if topic is None or topic.error is not None or not topic.partitions:
                raise PublishError(f"topic {self._topic} does not exist")
            self._partitions = len(topic.partitions)
        return self._partitions

    # -- the reader thread

    def _serve(self) -> None:
        while not self._stopped.is_set():
            self._producer.poll(0)
            if not self._sync_assignment():
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            for message in self._consumer.consume(200, 0.02):
                if message.error() is None:
                    self._deliver(message)

    def _sync_assignment(self) -> bool:
        """Read exactly the partitions some check waits on; returns whether any is read."""
        with self._lock:
            needed = {wait.partition for wait in self._waiting.values()}
            starts: dict[int, int] = {}
            for wait in self._waiting.values():
                if wait.offset is not None:
                    starts[wait.partition] = min(
                        starts.get(wait.partition, wait.offset), wait.offset
                    )
            # a partition newly needed always has a start: only a check that began while its
            # partition was read has none, and that check keeps the partition read
            added = {p: starts[p] for p in needed - self._assigned if p in starts}
            removed = self._assigned - needed
            self._assigned = (self._assigned - removed) | added.keys()
            reading = bool(self._assigned)
        if removed:
            self._consumer.incremental_unassign([TopicPartition(self._topic, p) for p in removed])
        if added:
            self._consumer.incremental_assign(
                [TopicPartition(self._topic, p, o) for p, o in added.items()]
            )
        return reading

    def _deliver(self, message: Message) -> None:
        key = message.key()
        if key is None:
            return
        intent_id = key.decode("utf-8", "replace")
        with self._lock:
            wait = self._waiting.get(intent_id)
        offset = message.offset()
        if wait is None or (wait.offset is not None and (offset or 0) < wait.offset):
            return  # not ours, or the verdict of an earlier intent that had the same id
        try:
            verdict: Verdict | None = Verdict.from_record(
                self._codec.decode(VERDICTS, message.value())
            )
        except Exception as exc:  # an undecodable verdict allows nothing
            log.warning("verdict for intent %s unreadable (%s): treated as none", intent_id, exc)
            verdict = None
        _settle(wait.future, result=verdict)

    # -- lifetime

    def close(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout)
        self._consumer.close()
        self._producer.poll(0)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)


def _settle(
    future: concurrent.futures.Future[Verdict | None],
    *,
    result: Verdict | None = None,
    exception: BaseException | None = None,
) -> None:
    """Resolve `future` unless it is already done (answered, or given up on by its caller)."""
    try:
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass
