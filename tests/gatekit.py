"""Integration kit: a real worker process on unique topics, a producer, and output readers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from connectors.producer import GateProducer
from streams import topics
from streams.devtools.ports import free_port
from streams.devtools.runner import WorkerProcess
from streams.kafka_config import client_config
from streams.runtime.admin import ensure_topics
from streams.serdes import WireCodec, codec_for
from streams.settings import Settings
from tests import builders


def gate_settings(stack: Any, name: str, tmp_path: Path, **changes: Any) -> Settings:
    """Settings for one test's gate: its own topics, group, data dir and web port."""
    settings: Settings = stack.settings(
        app_id=f"{name}-app",
        topic_prefix=f"{name}.",
        data_dir=tmp_path / "worker-data",
        web_port=free_port(),
        partitions=3,
        log_level="info",
    )
    return settings.replace(**changes)


@dataclass
class RunningGate:
    """A test's gate: worker process, producer and codec on the same unique topics."""

    settings: Settings
    worker: WorkerProcess
    codec: WireCodec
    producer: GateProducer

    @classmethod
    def start(cls, settings: Settings, log_dir: Path) -> RunningGate:
        ensure_topics(settings)
        codec = codec_for(settings, register=True)
        producer = GateProducer.for_settings(settings, codec)
        worker = WorkerProcess(settings, log_dir / "worker.log").start()
        return cls(settings, worker, codec, producer)

    def reader(self, spec: topics.TopicSpec) -> OutputReader:
        return OutputReader(self.settings, self.codec, spec)

    def stop(self) -> None:
        self.worker.stop()


class OutputReader:
    """Reads one output topic from the beginning, decoding every record, across calls."""

    def __init__(self, settings: Settings, codec: WireCodec, spec: topics.TopicSpec) -> None:
        self.spec = spec
        self.codec = codec
        self.records: list[dict[str, Any]] = []
        self.headers: list[list[tuple[str, bytes]]] = []  # of each record, as Kafka gave them
        name = spec.name(settings.topic_prefix)
        self._consumer = Consumer(
            client_config(
                settings, **{"group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False}
            )
        )
        partitions = self._consumer.list_topics(name, timeout=10).topics[name].partitions
        self._consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in partitions])

    def poll(self, seconds: float = 0.2) -> int:
        got = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for message in self._consumer.consume(500, 0.05):
                if message.error():
                    continue
                self.records.append(self.codec.decode(self.spec, message.value()))
                self.headers.append(list(message.headers() or []))
                got += 1
        return got

    def wait_for_ids(self, ids: Iterable[str], timeout: float = 60.0, key: str = "id") -> None:
        wanted = set(ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wanted <= {r[key] for r in self.records}:
                return
            self.poll(0.2)
        missing = wanted - {r[key] for r in self.records}
        raise AssertionError(
            f"{len(missing)} {self.spec.base} never came, e.g. {sorted(missing)[:5]}"
        )

    def wait_for_count(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            self.poll(0.2)
        assert len(self.records) >= count, f"{len(self.records)} of {count} {self.spec.base}"

    def close(self) -> None:
        self._consumer.close()


class SmsRecipients:
    """US sms recipients numbered from `base`, and the records a test sends about them.

    Each test takes its own `base`, so tests sharing a broker never share a recipient. The records
    are `tests.builders`' defaults (consent, then opt-out, then intent) for that recipient.
    """

    def __init__(self, base: int) -> None:
        self.base = base

    def phone(self, n: int) -> str:
        return f"+1415{self.base + n:07d}"

    def consent(self, n: int) -> dict[str, Any]:
        return builders.consent(id=f"c{n}", address=self.phone(n))

    def optout(self, n: int) -> dict[str, Any]:
        return builders.optout(id=f"o{n}", address=self.phone(n))

    def intent(self, intent_id: str, n: int) -> dict[str, Any]:
        return builders.intent(id=intent_id, address=self.phone(n))
