"""The shared batch loop (streams/runtime/app.py, batch_agent): each value's schema is looked up
in its own topic's subject, and every batch is registered with the acknowledgement order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from streams import topics
from streams.metrics import GateMetrics
from streams.runtime.acks import AckOrder
from streams.runtime.app import batch_agent


@dataclass
class Message:
    topic: str
    value: bytes
    generation_id: int | None = None


@dataclass(eq=False)
class Event:
    message: Message

    def ack(self) -> None:
        pass


class Stream:
    def __init__(self, batches: list[list[Event]]) -> None:
        self.batches = batches

    async def noack_take(self, size: int, within: float) -> AsyncIterator[list[Event]]:
        for batch in self.batches:
            yield batch


class Codec:
    def __init__(self) -> None:
        self.preloaded: list[tuple[str, list[bytes]]] = []

    def preload(self, spec: topics.TopicSpec, values: Any) -> None:
        self.preloaded.append((spec.base, list(values)))


async def test_each_topic_is_preloaded_with_its_own_spec() -> None:
    codec, handled = Codec(), []
    acks = AckOrder(lambda: None, lambda event: None)
    events = [Event(Message("p.verdicts", b"v1")), Event(Message("p.deliveries", b"d1")),
              Event(Message("p.verdicts", b"v2"))]  # fmt: skip
    body = batch_agent(
        "delivery-reconciler", 10, topics.DELIVERIES, handled.append,
        codec=codec, metrics=GateMetrics(), discard=lambda: None, acks=acks,  # type: ignore[arg-type]
        topic_specs={"p.verdicts": topics.VERDICTS, "p.deliveries": topics.DELIVERIES},
    )  # fmt: skip
    await body(Stream([events]))
    assert sorted(codec.preloaded) == [("deliveries", [b"d1"]), ("verdicts", [b"v1", b"v2"])]
    assert handled == [events] and acks.waiting("delivery-reconciler") == 1


async def test_one_topic_agents_preload_with_their_spec() -> None:
    codec = Codec()
    acks = AckOrder(lambda: None, lambda event: None)
    events = [Event(Message("p.send-intents", b"i1"))]
    body = batch_agent(
        "intent", 10, topics.INTENTS, lambda batch: None,
        codec=codec, metrics=GateMetrics(), discard=lambda: None, acks=acks,  # type: ignore[arg-type]
    )  # fmt: skip
    await body(Stream([events]))
    assert codec.preloaded == [("send-intents", [b"i1"])]


def test_delivery_reports_are_served_every_few_records_of_a_batch() -> None:
    from streams.runtime.app import SERVE_REPORTS_EVERY, serving_reports

    seen: list[int] = []

    class CountingOutputs:
        def serve_reports(self) -> None:
            seen.append(len(handled))

    handled: list[int] = []
    events = list(range(2 * SERVE_REPORTS_EVERY + 3))
    for event in serving_reports(events, CountingOutputs()):  # type: ignore[arg-type]
        handled.append(event)
    assert handled == events
    # Served after each full group of records, while the batch is handled, not after it.
    assert seen == [SERVE_REPORTS_EVERY, 2 * SERVE_REPORTS_EVERY]
