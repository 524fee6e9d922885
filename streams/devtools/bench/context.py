"""What the steps of one run share: where to connect, the sizes, the worker, the report so far."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams import topics
from streams.devtools.bench.measure import cpu_seconds
from streams.devtools.bench.sizes import Sizes
from streams.devtools.bench.worker import GateWorker
from streams.settings import Settings

Log = Callable[[str], None]
CHANGELOG_SUFFIX = "-recipients-changelog"


@dataclass
class BenchState:
    """What the steps hand each other."""

    recipients: list[Any] = field(default_factory=list)
    intents_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    allowed_promotional: list[str] = field(default_factory=list)
    gate_rate: float = 0.0
    clock: Any = None


class Phases:
    """Wall time of each named part of the run, logged as it starts and ends."""

    def __init__(self, log: Log) -> None:
        self._log = log
        self._t0 = time.monotonic()
        self.seconds: dict[str, float] = {}

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def say(self, message: str) -> None:
        self._log(f"[{self.elapsed():6.1f}s] {message}")

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        self.say(f"{name} ...")
        yield
        took = time.monotonic() - started
        self.seconds[name] = round(took, 2)
        self.say(f"{name}: {took:.1f}s")


@dataclass
class RunContext:
    """One run, once its stack, topics and settings are fixed."""

    settings: Settings
    sizes: Sizes
    work_dir: Path
    phase: Phases
    worker: GateWorker
    broker_pid: int | None = None
    codec: Any = None
    report: dict[str, Any] = field(default_factory=dict)
    state: BenchState = field(default_factory=BenchState)

    def say(self, message: str) -> None:
        self.phase.say(message)

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap_servers

    @property
    def prefix(self) -> str:
        return self.settings.topic_prefix

    @property
    def changelog_topic(self) -> str:
        return f"{self.settings.app_id}{CHANGELOG_SUFFIX}"

    def topic(self, spec: topics.TopicSpec) -> str:
        return spec.name(self.prefix)

    def broker_cpu(self) -> float:
        """The broker's CPU seconds so far (0 when its pid is unknown)."""
        return cpu_seconds(self.broker_pid)

    def broker_figure(self, value: float, digits: int) -> float | None:
        """A broker CPU figure for the report, None when the broker's pid is unknown."""
        return round(value, digits) if self.broker_pid else None
