"""The worker under measurement: one `consentgate worker` child at a time, its memory watched from
the moment it is spawned (start-up and table recovery are when it peaks), its metrics scraped."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from streams.devtools.bench.errors import BenchError
from streams.devtools.bench.kafkaio import GroupWatcher
from streams.devtools.bench.measure import MemorySampler, cpu_seconds
from streams.devtools.bench.scrape import gc_pause_seconds, latency_histogram, verdicts_total
from streams.settings import Settings

START_TIMEOUT_S = 1200.0


class GateWorker:
    """Starts, watches, scrapes and stops the gate's worker process."""

    def __init__(self, settings: Settings, log_path: Path, memory: MemorySampler) -> None:
        self.settings = settings
        self.log_path = log_path
        self.memory = memory
        self.current: Any = None  # the running streams.devtools.runner.WorkerProcess

    def start(self, timeout: float = START_TIMEOUT_S) -> Any:
        from streams.devtools.runner import WorkerProcess

        worker = WorkerProcess(self.settings, self.log_path)
        self.current = worker
        watcher = threading.Thread(target=self._watch_when_spawned, args=(worker,), daemon=True)
        watcher.start()
        worker.start(timeout=timeout)
        assert worker.process is not None
        self.memory.watch(worker.process.pid)
        return worker

    def _watch_when_spawned(self, worker: Any) -> None:
        deadline = time.monotonic() + 30
        while worker.process is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if worker.process is not None:
            self.memory.watch(worker.process.pid)

    def stop(self) -> None:
        if self.current is not None and self.current.alive():
            self.memory.sample(self.current.process.pid)
            self.current.stop(timeout=60)
        self.current = None

    @property
    def pid(self) -> int:
        assert self.current is not None and self.current.process is not None
        return int(self.current.process.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def require_alive(self, what: str) -> None:
        if self.current is not None and not self.current.alive():
            raise BenchError(f"the worker exited while {what}:\n{self.current.log_tail()}")

    def _metrics(self) -> str:
        if self.current is None:
            return ""
        try:
            text: str = self.current.scrape()
        except OSError:
            return ""
        return text

    def verdicts_so_far(self) -> int:
        """Verdicts the running worker has written (its own counter: it starts at 0)."""
        return verdicts_total(self._metrics())

    def gc_pause_seconds(self) -> float:
        """Seconds the running worker has spent in garbage collection (from its start)."""
        return gc_pause_seconds(self._metrics())

    def latency_histogram(self) -> dict[float, float]:
        return latency_histogram(self._metrics())

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def wait_committed(self, names: list[str], timeout: float, what: str) -> bool:
        """Until the gate's group committed everything in `names` (True) or `timeout` (False)."""
        watcher = GroupWatcher(self.settings.kafka_bootstrap_servers, self.settings.app_id)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self.require_alive(what)
                if watcher.behind(names) == 0:
                    return True
                time.sleep(0.5)
            return False
        finally:
            watcher.close()
