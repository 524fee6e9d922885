"""`tail.follow` ends when its stop event is set, with its consumer closed, even while no record
comes (the demo stops the embedded broker right after: a consumer left polling filled its output
with reconnect errors)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from streams import topics
from streams.cli import tail
from streams.settings import Settings


class _QuietConsumer:
    """A consumer on a topic of two partitions where nothing is ever written."""

    instances: list[_QuietConsumer] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.polls = 0
        self.closed = False
        _QuietConsumer.instances.append(self)

    def list_topics(self, name: str, timeout: float) -> Any:
        topic = type("Topic", (), {"partitions": {0: None, 1: None}})()
        return type("Metadata", (), {"topics": {name: topic}})()

    def assign(self, partitions: list[Any]) -> None:
        self.assigned = partitions

    def poll(self, timeout: float) -> None:
        self.polls += 1
        time.sleep(min(timeout, 0.01))

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> type[_QuietConsumer]:
    import confluent_kafka

    import streams.serdes

    _QuietConsumer.instances = []
    monkeypatch.setattr(confluent_kafka, "Consumer", _QuietConsumer)
    monkeypatch.setattr(streams.serdes, "codec_for", lambda settings: None)
    return _QuietConsumer


def test_follow_ends_soon_after_stop_and_closes_its_consumer(quiet: type[_QuietConsumer]) -> None:
    stop = threading.Event()
    records: list[Any] = []
    reader = threading.Thread(
        target=lambda: records.extend(
            tail.follow(Settings(), topics.VERDICTS, from_end=True, idle_s=0, stop=stop)
        )
    )
    reader.start()
    time.sleep(0.1)
    assert reader.is_alive(), "with idle_s=0 and no stop it keeps following"
    stop.set()
    reader.join(timeout=2)
    assert not reader.is_alive()
    (consumer,) = quiet.instances
    assert consumer.polls > 0
    assert consumer.closed
    assert records == []


def test_follow_without_a_stop_still_ends_after_its_idle_time(quiet: type[_QuietConsumer]) -> None:
    assert list(tail.follow(Settings(), topics.VERDICTS, from_end=False, idle_s=0.05)) == []
    assert quiet.instances[0].closed
