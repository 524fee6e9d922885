"""Where the gate's outputs go: Kafka through librdkafka in a worker, a list in agent tests.

The gate hands over already-encoded bytes; the sink only sends. Every send made while a `Batch`
is open counts towards it, and a batch completes once Kafka acknowledged every one of its sends:
only then are the batch's input events acknowledged to faust, which commits only acknowledged
offsets. An input is therefore never committed before its verdicts, violations, dead letters and
table changelog records are durable (at-least-once), without a flush on the hot path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from streams.metrics import GateMetrics
from streams.topics import TopicSpec

log = logging.getLogger(__name__)

AckCallback = Callable[[float], None]  # the time Kafka acknowledged the record (seconds)
OffsetCallback = Callable[[int, int], None]  # (partition, offset) of the acknowledged record


class Outputs(Protocol):
    def send(
        self, spec: TopicSpec, key: bytes | None, value: bytes, on_ack: AckCallback | None = None
    ) -> None:
        """Queue one record for a gate topic; `on_ack(ack_time_s)` runs once Kafka has it."""

    def send_to(
        self, topic: str, partition: int, key: bytes, value: bytes, on_offset: OffsetCallback
    ) -> None:
        """Queue one record for an explicit topic partition (the table's changelog)."""

    def batch(self, on_complete: Callable[[], None]) -> Any:
        """A context: sends inside it complete together; `on_complete` runs on the event loop
        once all are acknowledged (at once when there were none)."""


class Batch:
    """Counts a batch's sends still waiting for their acknowledgement."""

    def __init__(self, on_complete: Callable[[], None], call_soon: Callable[..., Any]) -> None:
        self._on_complete = on_complete
        self._call_soon = call_soon
        self._waiting = 0
        self._sealed = False
        self._lock = threading.Lock()

    def expect(self) -> None:
        with self._lock:
            self._waiting += 1

    def delivered(self) -> None:
        """One send acknowledged (called from the producer's poll thread)."""
        with self._lock:
            self._waiting -= 1
            complete = self._sealed and self._waiting == 0
        if complete:
            self._call_soon(self._on_complete)

    def seal(self) -> None:
        """No more sends: complete now if nothing is waiting (called on the event loop)."""
        with self._lock:
            self._sealed = True
            complete = self._waiting == 0
        if complete:
            self._on_complete()


class KafkaOutputs:
    """One librdkafka producer for every output, polled on its own thread.

    A send that Kafka refuses after librdkafka's own retries (`message.timeout.ms`) calls
    `on_fatal`: the worker stops without acknowledging the batch, so its inputs are processed
    again, by this worker after a restart or by another one. Nothing is skipped.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        names: Mapping[str, str],
        metrics: GateMetrics,
        on_fatal: Callable[[str], None],
    ) -> None:
        from confluent_kafka import Producer

        self._producer = Producer(dict(config, error_cb=self._client_error))
        self._names = names
        self._metrics = metrics
        self._on_fatal = on_fatal
        self._batch: Batch | None = None
        self._call_soon: Callable[..., Any] = _call_now
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def start(self, call_soon_threadsafe: Callable[..., Any]) -> None:
        """Start serving delivery reports; completions go back through `call_soon_threadsafe`."""
        self._call_soon = call_soon_threadsafe
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll, name="outputs-poll", daemon=True)
            self._poller.start()

    def stop(self, timeout: float = 30.0) -> int:
        """Deliver what is queued (up to `timeout`), then stop polling. Returns what is left."""
        left = int(self._producer.flush(timeout))
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
            self._poller = None
        return left

    def flush(self, timeout: float = 30.0) -> int:
        return int(self._producer.flush(timeout))

    @contextmanager
    def batch(self, on_complete: Callable[[], None]) -> Iterator[Batch]:
        """Sends inside complete together. If the body raises, the batch is never completed:
        its inputs stay unacknowledged and are processed again."""
        batch = Batch(on_complete, lambda *args: self._call_soon(*args))
        self._batch = batch
        try:
            yield batch
        finally:
            self._batch = None
        batch.seal()

    def send(
        self, spec: TopicSpec, key: bytes | None, value: bytes, on_ack: AckCallback | None = None
    ) -> None:
        self._produce(self._names[spec.base], None, key, value, self._ack_time(on_ack))

    def send_to(
        self, topic: str, partition: int, key: bytes, value: bytes, on_offset: OffsetCallback
    ) -> None:
        def delivered(message: Any) -> None:
            on_offset(message.partition(), message.offset())

        self._produce(topic, partition, key, value, delivered)

    @staticmethod
    def _ack_time(on_ack: AckCallback | None) -> Callable[[Any], None] | None:
        if on_ack is None:
            return None
        ack = on_ack

        def delivered(_message: Any) -> None:
            ack(time.time())

        return delivered

    def _produce(
        self,
        topic: str,
        partition: int | None,
        key: bytes | None,
        value: bytes,
        on_delivered: Callable[[Any], None] | None,
    ) -> None:
        batch = self._batch
        if batch is not None:
            batch.expect()

        def report(error: Any, message: Any) -> None:
            if error is not None:
                self._failed(topic, error)
                return
            if on_delivered is not None:
                on_delivered(message)
            if batch is not None:
                batch.delivered()

        while True:
            try:
                if partition is None:
                    self._producer.produce(topic, value, key, on_delivery=report)
                else:
                    self._producer.produce(topic, value, key, partition, on_delivery=report)
                return
            except BufferError:  # the local queue is full: serve reports until there is room
                self._producer.poll(0.05)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def _failed(self, topic: str, error: Any) -> None:
        base = next((b for b, name in self._names.items() if name == topic), "changelog")
        self._metrics.processing_errors.labels(base).inc()
        log.error("Kafka did not take a record for %s: %s; stopping the worker", base, error)
        self._call_soon(self._on_fatal, f"output delivery failed: {error}")

    @staticmethod
    def _client_error(error: Any) -> None:
        log.warning("output producer: %s", error)


def _call_now(function: Callable[..., Any], *args: Any) -> None:
    function(*args)


@dataclass
class RecordingOutputs:
    """Keeps what would have been sent; acknowledges at once. For agent tests."""

    sent: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)
    changelog: list[tuple[str, int, bytes, bytes]] = field(default_factory=list)

    @contextmanager
    def batch(self, on_complete: Callable[[], None]) -> Iterator[None]:
        yield
        on_complete()

    def send(
        self, spec: TopicSpec, key: bytes | None, value: bytes, on_ack: AckCallback | None = None
    ) -> None:
        self.sent.append((spec.base, key, value))
        if on_ack is not None:
            on_ack(time.time())

    def send_to(
        self, topic: str, partition: int, key: bytes, value: bytes, on_offset: OffsetCallback
    ) -> None:
        self.changelog.append((topic, partition, key, value))
        on_offset(partition, len(self.changelog) - 1)

    def of(self, spec: TopicSpec) -> list[tuple[bytes | None, bytes]]:
        return [(key, value) for base, key, value in self.sent if base == spec.base]
