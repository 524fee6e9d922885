"""Outputs: a batch completes only once Kafka acknowledged every send made inside it."""

from __future__ import annotations

from typing import Any

import pytest

from streams import topics
from streams.metrics import GateMetrics
from streams.runtime import outputs as outputs_module
from streams.runtime.outputs import Batch, KafkaOutputs


class FakeMessage:
    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self._where = (topic, partition, offset)

    def partition(self) -> int:
        return self._where[1]

    def offset(self) -> int:
        return self._where[2]


class FakeProducer:
    """Queues produce calls; `deliver()` plays the broker's acknowledgements (or errors)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.queued: list[tuple[str, bytes, bytes | None, int | None, Any]] = []

    def produce(self, topic: str, value: bytes, key: bytes | None, partition: int | None = None,
                on_delivery: Any = None) -> None:  # fmt: skip
        self.queued.append((topic, value, key, partition, on_delivery))

    def deliver(self, error: Any = None) -> None:
        queued, self.queued = self.queued, []
        for offset, (topic, _value, _key, partition, report) in enumerate(queued):
            report(error, FakeMessage(topic, partition or 0, offset))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return len(self.queued)


@pytest.fixture
def kafka_outputs(monkeypatch: pytest.MonkeyPatch) -> tuple[KafkaOutputs, list[str]]:
    import confluent_kafka

    monkeypatch.setattr(confluent_kafka, "Producer", FakeProducer)
    fatal: list[str] = []
    names = {spec.base: spec.base for spec in topics.ALL}
    out = KafkaOutputs({"bootstrap.servers": "x"}, names, GateMetrics(), on_fatal=fatal.append)
    return out, fatal


def producer(out: KafkaOutputs) -> FakeProducer:
    fake = out._producer  # our own attribute, not a library's
    assert isinstance(fake, FakeProducer)
    return fake


def test_batch_completes_after_every_send_is_acknowledged(kafka_outputs: Any) -> None:
    out, fatal = kafka_outputs
    done: list[str] = []
    with out.batch(lambda: done.append("acked")):
        out.send(topics.VERDICTS, b"k", b"v1")
        out.send(topics.VIOLATIONS, b"k", b"v2")
        out.send_to("changelog", 3, b"k", b"state", lambda p, o: None)
    assert done == []  # sealed, but nothing acknowledged yet
    producer(out).deliver()
    assert done == ["acked"] and fatal == []


def test_batch_without_sends_completes_when_sealed(kafka_outputs: Any) -> None:
    out, _ = kafka_outputs
    done: list[int] = []
    with out.batch(lambda: done.append(1)):
        pass
    assert done == [1]


def test_a_refused_send_stops_the_worker_and_never_completes_the_batch(kafka_outputs: Any) -> None:
    out, fatal = kafka_outputs
    done: list[int] = []
    with out.batch(lambda: done.append(1)):
        out.send(topics.VERDICTS, b"k", b"v")
    producer(out).deliver(error="broker gone")
    assert done == [] and len(fatal) == 1 and "broker gone" in fatal[0]


def test_an_error_inside_the_batch_leaves_it_open(kafka_outputs: Any) -> None:
    out, _ = kafka_outputs
    done: list[int] = []
    with pytest.raises(RuntimeError), out.batch(lambda: done.append(1)):
        raise RuntimeError("agent bug")
    assert done == []


def test_changelog_sends_report_their_partition_and_offset(kafka_outputs: Any) -> None:
    out, _ = kafka_outputs
    seen: list[tuple[int, int]] = []
    out.send_to("changelog", 2, b"a", b"1", lambda p, o: seen.append((p, o)))
    out.send_to("changelog", 2, b"b", b"2", lambda p, o: seen.append((p, o)))
    producer(out).deliver()
    assert seen == [(2, 0), (2, 1)]


def test_ack_time_reaches_the_latency_callback(kafka_outputs: Any) -> None:
    out, _ = kafka_outputs
    times: list[float] = []
    out.send(topics.VERDICTS, b"k", b"v", on_ack=times.append)
    producer(out).deliver()
    assert len(times) == 1 and times[0] > 0


def test_completion_goes_through_the_event_loop_hand_off() -> None:
    handed: list[Any] = []
    batch = Batch(lambda: None, lambda fn, *args: handed.append(fn))
    batch.expect()
    batch.seal()
    assert handed == []
    batch.delivered()  # as from the poll thread
    assert len(handed) == 1


def test_module_defaults_deliver_on_the_caller_without_a_loop() -> None:
    calls: list[int] = []
    outputs_module._call_now(calls.append, 7)
    assert calls == [7]
