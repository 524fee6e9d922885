"""Where the gate's outputs go: Kafka through librdkafka in a worker, a list in agent tests.

The gate hands over already-encoded bytes; the sink only sends. Every send made while a `Batch`
is open counts towards it, and a batch completes once Kafka acknowledged every one of its sends:
only then are the batch's input events acknowledged to faust, which commits only acknowledged
offsets. An input is therefore never committed before its verdicts, violations, dead letters and
table changelog records are durable (at-least-once), without a flush on the hot path.

Inside a batch, the table's changelog records go first: the batch's other sends (verdicts,
violations, ledger entries, dead letters) are held until Kafka has acknowledged every changelog
record of the batch. A verdict is then never visible before the memo that repeats it is durable:
a worker killed in between re-decides the intent afresh only if nobody saw its verdict, so a
reprocessed intent can never contradict a verdict already read (the memo, `stored.py`). The cost
is one changelog round trip on the verdict's latency.

Delivery reports are served on the event loop (`serve`), not on a thread of their own: every
callback then runs where the agents run, with no locks and no contention for the GIL between a
polling thread and the agents (measured in docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from streams.metrics import GateMetrics
from streams.topics import TopicSpec

log = logging.getLogger(__name__)

AckCallback = Callable[[float], None]  # the time Kafka acknowledged the record (seconds)
OffsetCallback = Callable[[int, int], None]  # (partition, offset) of the acknowledged record
Headers = list[tuple[str, str | bytes | None]]  # record headers, in order, as librdkafka takes them
# How often the event loop asks librdkafka for delivery reports while sends are outstanding,
# and while none are (a send wakes the idle loop at once: `KafkaOutputs.serve`).
POLL_BUSY_S = 0.001
POLL_IDLE_S = 0.02


class Outputs(Protocol):
    def send(
        self,
        spec: TopicSpec,
        key: bytes | None,
        value: bytes,
        on_ack: AckCallback | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue one record for a gate topic; `on_ack(ack_time_s)` runs once Kafka has it."""

    def send_to(
        self, topic: str, partition: int, key: bytes, value: bytes | None, on_offset: OffsetCallback
    ) -> None:
        """Queue one record for an explicit topic partition (the table's changelog)."""

    def batch(self, on_complete: Callable[[], None]) -> Any:
        """A context: sends inside it complete together; `on_complete` runs once all are
        acknowledged (at once when there were none). If the body raises, never."""

    def serve_reports(self) -> None:
        """Serve the delivery reports that are in, without waiting (from inside a long batch)."""


class Batch:
    """Counts a batch's sends still waiting for their acknowledgement, and holds its other sends
    until its changelog records are acknowledged (module docstring)."""

    __slots__ = ("_held", "_on_complete", "_release", "_sealed", "_state_waiting", "_waiting")

    def __init__(
        self, on_complete: Callable[[], None], release: Callable[[list[Any]], None] | None = None
    ) -> None:
        self._on_complete = on_complete
        self._release = release
        self._waiting = 0
        self._state_waiting = 0
        self._held: list[Any] = []
        self._sealed = False

    def expect(self) -> None:
        self._waiting += 1

    def hold(self, send: Any) -> None:
        """A send to make once the batch's changelog records are durable."""
        self._waiting += 1
        self._held.append(send)

    def expect_state(self) -> None:
        self._waiting += 1
        self._state_waiting += 1

    def delivered(self) -> None:
        self._waiting -= 1
        if self._sealed and self._waiting == 0:
            self._on_complete()

    def state_delivered(self) -> None:
        self._state_waiting -= 1
        if self._sealed and self._state_waiting == 0:
            self._release_held()
        self.delivered()

    def seal(self) -> None:
        """No more sends: release the held ones if no changelog record is waiting, and complete
        now if nothing is."""
        self._sealed = True
        if self._state_waiting == 0:
            self._release_held()
        if self._waiting == 0:
            self._on_complete()

    def _release_held(self) -> None:
        held, self._held = self._held, []
        if held and self._release is not None:
            self._release(held)


class KafkaOutputs:
    """One librdkafka producer for every output; its reports are served on the event loop.

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
        self._base_of = {name: base for base, name in names.items()}
        self._metrics = metrics
        self._on_fatal = on_fatal
        self._batch: Batch | None = None
        self._deferred: list[Any] = []
        self._outstanding = 0
        self._sending = asyncio.Event()  # set by the first send made while the loop idles
        self._stopped = False

    async def serve(self) -> None:
        """Serve delivery reports until `stop`: often while sends are outstanding. While none
        are, the loop waits for the next send rather than a timer: a send made during a fixed
        idle sleep had its report served up to that sleep late, and a quiet worker's lone
        verdict waited twice for it (once for its changelog record, once for itself), which
        was most of the opt-out to enforcement time (docs/performance.md)."""
        poll = self._producer.poll
        sending = self._sending
        while not self._stopped:
            if self._deferred:
                self._produce_deferred()
            poll(0)
            if self._outstanding:
                await asyncio.sleep(POLL_BUSY_S)
                continue
            sending.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sending.wait(), POLL_IDLE_S)

    def serve_reports(self) -> None:
        """Serve the reports that are in, without waiting. Agents call it every few records
        of a batch: the event loop, and so `serve`, does not run while a batch is handled, and
        an earlier batch's changelog acknowledgement released its verdicts, and its verdicts'
        acknowledgements its inputs, only after this batch (docs/performance.md)."""
        if self._outstanding:
            self._producer.poll(0)

    def stop(self, timeout: float = 30.0) -> int:
        """Deliver what is queued (up to `timeout`) and stop serving. Returns what is left."""
        left = self.flush(timeout)
        self._stopped = True
        return left

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for every outstanding send (reports are served here, on the caller's thread),
        held sends released meanwhile included."""
        deadline = time.monotonic() + timeout
        while True:
            if self._deferred:
                self._produce_deferred()
            left = int(self._producer.flush(max(0.0, deadline - time.monotonic())))
            if not self._deferred or time.monotonic() >= deadline:
                return left + len(self._deferred)

    @contextmanager
    def batch(self, on_complete: Callable[[], None]) -> Iterator[Batch]:
        """Sends inside complete together. If the body raises, the batch is never completed:
        its inputs stay unacknowledged and are processed again."""
        batch = Batch(on_complete, self._release)
        self._batch = batch
        try:
            yield batch
        finally:
            self._batch = None
        batch.seal()

    def send(
        self,
        spec: TopicSpec,
        key: bytes | None,
        value: bytes,
        on_ack: AckCallback | None = None,
        headers: Headers | None = None,
    ) -> None:
        topic = self._names[spec.base]
        batch = self._batch
        report = partial(self._report, topic, batch, on_ack, None)
        if batch is not None:
            batch.hold((topic, key, value, report, headers))
            return
        self._produce(topic, None, key, value, report, headers)

    def send_to(
        self, topic: str, partition: int, key: bytes, value: bytes | None, on_offset: OffsetCallback
    ) -> None:
        batch = self._batch
        if batch is not None:
            batch.expect_state()
        report = partial(self._report, topic, batch, None, on_offset, state=True)
        self._produce(topic, partition, key, value, report)

    def _release(self, held: list[Any]) -> None:
        """Produce the sends a batch held back (its changelog records are durable). Runs in a
        delivery report, where librdkafka must not be polled: what its full queue refuses waits
        in `_deferred` for `serve` or `flush`."""
        for item in held:
            topic, key, value, report, headers = item
            if self._deferred:
                self._deferred.append(item)
                continue
            self._outstanding += 1
            self._sending.set()
            try:
                self._producer.produce(topic, value, key, on_delivery=report, headers=headers)
            except BufferError:
                self._outstanding -= 1
                self._deferred.append(item)

    def _produce_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        for topic, key, value, report, headers in deferred:
            self._produce(topic, None, key, value, report, headers)

    def _produce(
        self,
        topic: str,
        partition: int | None,
        key: bytes | None,
        value: bytes | None,
        report: Callable[[Any, Any], None],
        headers: Headers | None = None,
    ) -> None:
        self._outstanding += 1
        self._sending.set()
        while True:
            try:
                if partition is None:
                    self._producer.produce(topic, value, key, on_delivery=report, headers=headers)
                else:
                    self._producer.produce(topic, value, key, partition, on_delivery=report)
                return
            except BufferError:  # the local queue is full: serve reports until there is room
                self._producer.poll(0.05)

    def _report(
        self,
        topic: str,
        batch: Batch | None,
        on_ack: AckCallback | None,
        on_offset: OffsetCallback | None,
        error: Any,
        message: Any,
        *,
        state: bool = False,
    ) -> None:
        self._outstanding -= 1
        if error is not None:
            self._failed(topic, error)
            return
        if on_ack is not None:
            on_ack(time.time())
        if on_offset is not None:
            on_offset(message.partition(), message.offset())
        if batch is not None:
            if state:
                batch.state_delivered()
            else:
                batch.delivered()

    def _failed(self, topic: str, error: Any) -> None:
        base = self._base_of.get(topic, "changelog")
        self._metrics.processing_errors.labels(base).inc()
        log.error("Kafka did not take a record for %s: %s; stopping the worker", base, error)
        self._on_fatal(f"output delivery failed: {error}")

    @staticmethod
    def _client_error(error: Any) -> None:
        log.warning("output producer: %s", error)


@dataclass
class RecordingOutputs:
    """Keeps what would have been sent; acknowledges at once. For agent tests."""

    sent: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)
    changelog: list[tuple[str, int, bytes, bytes | None]] = field(default_factory=list)
    headers: list[Headers | None] = field(default_factory=list)  # of each record in `sent`

    @contextmanager
    def batch(self, on_complete: Callable[[], None]) -> Iterator[None]:
        yield
        on_complete()

    def serve_reports(self) -> None:
        """Nothing waits: every send was acknowledged when made."""

    def send(
        self,
        spec: TopicSpec,
        key: bytes | None,
        value: bytes,
        on_ack: AckCallback | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.sent.append((spec.base, key, value))
        self.headers.append(headers)
        if on_ack is not None:
            on_ack(time.time())

    def send_to(
        self, topic: str, partition: int, key: bytes, value: bytes | None, on_offset: OffsetCallback
    ) -> None:
        self.changelog.append((topic, partition, key, value))
        on_offset(partition, len(self.changelog) - 1)

    def of(self, spec: TopicSpec) -> list[tuple[bytes | None, bytes]]:
        return [(key, value) for base, key, value in self.sent if base == spec.base]
