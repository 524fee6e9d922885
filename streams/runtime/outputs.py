"""Where the gate's outputs go: Kafka topics in a worker, a list in agent tests.

The gate hands over already-encoded bytes; the sink only sends. Sends are buffered by the
producer and flushed before faust commits the input offsets, which is what makes processing
at-least-once: an input is never committed before its outputs are acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from streams.metrics import GateMetrics
from streams.topics import TopicSpec

AckCallback = Callable[[float], None]


class Outputs(Protocol):
    def send(
        self, spec: TopicSpec, key: bytes | None, value: bytes, on_ack: AckCallback | None = None
    ) -> None:
        """Queue one record; `on_ack(ack_time_s)` runs once Kafka acknowledged it."""


class FaustOutputs:
    """Sends through the faust app's producer, by topic base name."""

    def __init__(self, faust_topics: Mapping[str, Any], metrics: GateMetrics) -> None:
        self._topics = faust_topics
        self._metrics = metrics

    def send(
        self, spec: TopicSpec, key: bytes | None, value: bytes, on_ack: AckCallback | None = None
    ) -> None:
        callback = None
        if on_ack is not None:
            ack = on_ack

            def callback(_future: Any) -> None:
                ack(time.time())

        self._topics[spec.base].send_soon(key=key, value=value, callback=callback)


@dataclass
class RecordingOutputs:
    """Keeps what would have been sent; acknowledges at once. For agent tests."""

    sent: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)

    def send(
        self, spec: TopicSpec, key: bytes | None, value: bytes, on_ack: AckCallback | None = None
    ) -> None:
        self.sent.append((spec.base, key, value))
        if on_ack is not None:
            on_ack(time.time())

    def of(self, spec: TopicSpec) -> list[tuple[bytes | None, bytes]]:
        return [(key, value) for base, key, value in self.sent if base == spec.base]
