"""Run `consentgate worker` as a child process: for the demo, the benchmark and integration tests.

A real process, so a test can `kill -9` it and a benchmark measures what production runs. Ready
means the worker said so in its log *and* its HTTP server answers /metrics.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from streams.settings import Settings, environment_of

READY_LINE = "[^Worker]: Ready"
# Every worker this process started, so a test session can kill what a failed test left running.
_STARTED: weakref.WeakSet[WorkerProcess] = weakref.WeakSet()


def kill_leftovers() -> int:
    """SIGKILL every worker this process started that still runs; returns how many."""
    left = [worker for worker in list(_STARTED) if worker.alive()]
    for worker in left:
        worker.kill()
    return len(left)


class WorkerFailed(RuntimeError):
    """The worker exited or did not become ready; the message carries its log's tail."""


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child worker use exactly these settings: every variable the
    settings object reads, nested policy settings included, over the parent's environment.
    Secrets are passed unmasked (the child must connect), so never log this mapping."""
    return {**os.environ, **environment_of(settings)}


@dataclass(eq=False)  # identity: kept in a WeakSet of started workers
class WorkerProcess:
    settings: Settings
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_after_s: float | None = None
    _log_offset: int = field(default=0, repr=False)

    @property
    def metrics_url(self) -> str:
        return f"http://{self.settings.web_bind}:{self.settings.web_port}/metrics"

    def start(self, timeout: float = 90.0) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"],
            env=worker_env(self.settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _STARTED.add(self)
        try:
            self.wait_ready(timeout)
        except BaseException:  # never leave a half-started worker running behind a failure
            self.kill()
            raise
        return self

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_bytes()[self._log_offset :].decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise WorkerFailed(f"worker exited during start-up:\n{self.log_tail()}")
            if READY_LINE in self.log_tail(400) and self.metrics_answer():
                self.ready_after_s = time.monotonic() - self.started_at
                return
            time.sleep(0.2)
        raise WorkerFailed(f"worker not ready after {timeout:g}s:\n{self.log_tail()}")

    def metrics_answer(self) -> bool:
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def scrape(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            body: bytes = response.read()
        return body.decode()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit. What a crash looks like."""
        if self.alive():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait: a graceful shutdown. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode
