"""Outputs: a batch completes only once Kafka acknowledged every send made inside it."""

from __future__ import annotations

from typing import Any

import pytest

from streams import topics
from streams.metrics import GateMetrics
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
        self.headers: list[Any] = []  # of each produce call, in order

    def produce(self, topic: str, value: bytes, key: bytes | None, partition: int | None = None,
                on_delivery: Any = None, headers: Any = None) -> None:  # fmt: skip
        self.queued.append((topic, value, key, partition, on_delivery))
        self.headers.append(headers)

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
    producer(out).deliver()  # the changelog record; then the held verdict and violation go
    assert done == []
    producer(out).deliver()
    assert done == ["acked"] and fatal == []


def test_a_batch_holds_its_verdicts_until_its_changelog_is_durable(kafka_outputs: Any) -> None:
    # A verdict must never be visible before the memo that repeats it (outputs.py, stored.py).
    out, _ = kafka_outputs
    fake = producer(out)
    with out.batch(lambda: None):
        out.send(topics.VERDICTS, b"m1", b"allow")
        out.send_to("changelog", 0, b"addr", b"state+memo", lambda p, o: None)
    assert [q[0] for q in fake.queued] == ["changelog"]
    fake.deliver()
    assert [q[0] for q in fake.queued] == ["verdicts"]


def test_a_batch_without_changelog_records_sends_when_sealed(kafka_outputs: Any) -> None:
    out, _ = kafka_outputs
    fake = producer(out)
    done: list[int] = []
    with out.batch(lambda: done.append(1)):
        out.send(topics.DEAD_LETTERS, b"k", b"v")
        assert fake.queued == []  # held while the batch is open
    assert [q[0] for q in fake.queued] == ["dead-letters"]
    fake.deliver()
    assert done == [1]


def test_held_sends_the_full_queue_refuses_wait_for_serve(kafka_outputs: Any) -> None:
    out, _ = kafka_outputs
    fake = producer(out)
    refuse = [True]
    original = fake.produce

    def produce(*args: Any, **kwargs: Any) -> None:
        if refuse[0] and args[0] == "verdicts":
            raise BufferError("queue full")
        original(*args, **kwargs)

    fake.produce = produce  # type: ignore[method-assign]
    done: list[int] = []
    with out.batch(lambda: done.append(1)):
        out.send(topics.VERDICTS, b"m1", b"allow", headers=[("h", b"1")])
        out.send_to("changelog", 0, b"addr", b"state", lambda p, o: None)
    fake.deliver()  # changelog acknowledged: the verdict is refused by the full queue
    assert fake.queued == [] and done == []
    refuse[0] = False
    assert out.flush(1.0) == 1  # produced by flush; the fake never delivers on its own
    assert fake.headers[-1] == [("h", b"1")]  # its headers kept while it waited
    fake.deliver()
    assert done == [1]


def test_a_send_s_headers_reach_kafka_held_or_not(kafka_outputs: Any) -> None:
    out, _ = kafka_outputs
    fake = producer(out)
    out.send(topics.VERDICTS, b"m1", b"allow", headers=[("h", b"direct")])
    with out.batch(lambda: None):
        out.send(topics.VERDICTS, b"m2", b"deny", headers=[("h", b"held")])
        out.send(topics.DEAD_LETTERS, b"k", b"v")
        out.send_to("changelog", 0, b"addr", b"state", lambda p, o: None)
    fake.deliver()
    assert fake.headers == [[("h", b"direct")], None, [("h", b"held")], None]


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


def test_a_batch_completes_once_sealed_and_drained_in_either_order() -> None:
    done: list[int] = []
    batch = Batch(lambda: done.append(1))
    batch.expect()
    batch.expect()
    batch.delivered()
    batch.seal()
    assert done == []
    batch.delivered()
    assert done == [1]


async def test_reports_are_served_on_the_event_loop(kafka_outputs: Any) -> None:
    import asyncio

    out, _ = kafka_outputs
    polled: list[float] = []
    fake = producer(out)
    fake.poll = lambda timeout: polled.append(timeout) or 0  # type: ignore[method-assign]
    server = asyncio.ensure_future(out.serve())
    await asyncio.sleep(0.05)
    out.stop(timeout=0)
    await asyncio.wait_for(server, 1)
    assert polled and all(timeout == 0 for timeout in polled)


async def test_a_send_wakes_the_idle_loop_to_serve_its_report(
    kafka_outputs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from streams.runtime import outputs as outputs_module

    monkeypatch.setattr(outputs_module, "POLL_IDLE_S", 60.0)  # idle polls would come too late
    out, _ = kafka_outputs
    fake = producer(out)
    polls: list[int] = []
    fake.poll = lambda timeout: polls.append(len(fake.queued)) or 0  # type: ignore[method-assign]
    server = asyncio.ensure_future(out.serve())
    await asyncio.sleep(0.05)
    assert polls == [0]  # polled once, then idles: nothing is outstanding
    done: list[int] = []
    with out.batch(lambda: done.append(1)):
        out.send(topics.VERDICTS, b"k", b"v")
    for _ in range(100):  # the send wakes the loop, which polls while it is outstanding
        await asyncio.sleep(0.01)
        if len(polls) > 1:
            break
    assert polls[1:] and polls[1] == 1
    fake.deliver()
    assert done == [1]
    out.stop(timeout=0)
    await asyncio.wait_for(server, 1)


def test_serving_reports_from_a_batch_polls_without_waiting_only_when_sends_are_out(
    kafka_outputs: Any,
) -> None:
    out, _ = kafka_outputs
    fake = producer(out)
    polled: list[float] = []
    fake.poll = lambda timeout: polled.append(timeout) or 0  # type: ignore[method-assign]
    out.serve_reports()
    assert polled == []  # nothing outstanding: no call into librdkafka
    out.send(topics.VERDICTS, b"k", b"v")
    out.serve_reports()
    assert polled == [0]
    fake.deliver()
    out.serve_reports()
    assert polled == [0]
