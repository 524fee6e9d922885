"""One benchmark run from start to end: the stack, the run's settings and topics, the steps in
order, cleanup, and the report."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.devtools.bench import gatecode, host, load, restarts, runtopics, scale, throughput
from streams.devtools.bench.context import Log, Phases, RunContext
from streams.devtools.bench.errors import BenchError
from streams.devtools.bench.latency import latency
from streams.devtools.bench.measure import MemorySampler
from streams.devtools.bench.optout import optout_enforcement
from streams.devtools.bench.report import DEFINITIONS, ordered
from streams.devtools.bench.sizes import Sizes
from streams.devtools.bench.worker import GateWorker
from streams.devtools.ports import free_port
from streams.settings import Settings


@dataclass(frozen=True)
class Stack:
    """Where the run connects, the broker version it reports, the broker pid if known."""

    bootstrap_servers: str
    schema_registry_url: str
    kafka_version: str
    broker_pid: int | None


@dataclass(frozen=True)
class Options:
    """How a run measures, besides its sizes."""

    mode: str  # "quick" or "full": recorded in the report
    latency_load: float = 0.6
    latency_rate: float | None = None
    work_dir: Path | None = None
    keep: bool = False
    kafka_version: str | None = None  # the broker version label for an external stack
    scale_workers: int = 0  # step 8: 1 worker, then this many (0: skip)


@contextlib.contextmanager
def bench_stack(settings: Settings, label: str | None, say: Log) -> Iterator[Stack]:
    """The shared stack choice; a configured stack that is in fact our embedded one (same
    bootstrap address) still gets its broker pid and version, for broker CPU accounting."""
    from streams.devtools.localstack import LocalStack
    from streams.devtools.localstack.stack import KAFKA
    from streams.devtools.stacks import StackChoiceError, chosen_stack

    with contextlib.ExitStack() as exits:
        try:
            chosen = exits.enter_context(chosen_stack(settings, log=say))
        except StackChoiceError as exc:
            raise BenchError(str(exc)) from exc
        version, pid = chosen.kafka_version, chosen.broker_pid
        if chosen.source == "configured":
            local = LocalStack(settings, log=say)
            pid = local.running_pid(KAFKA)
            if pid is not None and local.endpoints().bootstrap_servers == chosen.bootstrap_servers:
                version = local.kafka_version()
            else:
                version, pid = "unknown (external stack)", None
        if chosen.started:
            say(f"started the embedded stack ({', '.join(chosen.started)})")
        try:
            yield Stack(chosen.bootstrap_servers, chosen.schema_registry_url, label or version, pid)
        finally:
            if chosen.started:
                say("stopping the embedded stack it started")


class Bench:
    """Runs the steps of the module docstring once and returns the report."""

    def __init__(self, settings: Settings, sizes: Sizes, options: Options, log: Log) -> None:
        self.settings = settings
        self.sizes = sizes
        self.options = options
        self.phases = Phases(log)
        self.run_id = f"bench-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.work_dir = (
            Path(tempfile.mkdtemp(prefix=f"consentgate-{self.run_id}-"))
            if options.work_dir is None
            else options.work_dir / self.run_id
        )
        self.memory = MemorySampler()

    def run_settings(self, stack: Stack) -> Settings:
        """The run's own app id, topic prefix, data directory and web port, on `stack`."""
        return self.settings.replace(
            kafka_bootstrap_servers=stack.bootstrap_servers,
            schema_registry_url=stack.schema_registry_url,
            app_id=f"{self.run_id}-gate",
            topic_prefix=f"{self.run_id}.",
            data_dir=self.work_dir / "worker-data",
            web_port=free_port(),
            log_level="info",
        )

    def run(self) -> dict[str, Any]:
        started_at = datetime.now(UTC)
        report: dict[str, Any] = {}
        self.memory.start()
        try:
            with bench_stack(self.settings, self.options.kafka_version, self.phases.say) as stack:
                report["machine"] = host.machine()
                report["versions"] = host.versions(stack.kafka_version)
                self.settings = self.run_settings(stack)
                self._run_on(stack, report)
        finally:
            self.memory.stop()
            if self.options.work_dir is None and not self.options.keep:
                shutil.rmtree(self.work_dir, ignore_errors=True)
        return self._finish(report, started_at)

    def _run_on(self, stack: Stack, report: dict[str, Any]) -> None:
        worker = GateWorker(self.settings, self.work_dir / "worker.log", self.memory)
        ctx = RunContext(
            self.settings, self.sizes, self.work_dir, self.phases, worker, stack.broker_pid,
            report=report,
        )  # fmt: skip
        try:
            run_steps(ctx, self.options)
        finally:
            worker.stop()
            if not self.options.keep:
                runtopics.delete_topics(self.settings, self.phases.say)

    def _finish(self, report: dict[str, Any], started_at: datetime) -> dict[str, Any]:
        report["peak_rss_mb"] = round(self.memory.peak_mb, 1)
        report["machine"]["loadavg_at_end"] = host.loadavg()
        report["run"] = {
            "id": self.run_id,
            "mode": self.options.mode,
            "started_at": started_at.isoformat(timespec="seconds"),
            "duration_s": round(self.phases.elapsed(), 1),
            "phases_s": self.phases.seconds,
            "partitions": self.settings.partitions,
            "store": self.settings.store,
        }
        report["sizes"] = asdict(self.sizes)
        report["definitions"] = DEFINITIONS
        return ordered(report)


def run_steps(ctx: RunContext, options: Options) -> None:
    """Steps 1 to 8 of the module docstring, in order."""
    from streams.serdes import codec_for

    with ctx.phase("topics and schemas"):
        runtopics.create_topics(ctx)
        ctx.codec = codec_for(ctx.settings, register=True)
    bulk = load.bulk_producer(ctx)
    intents = load.load_state_and_generate_intents(ctx, bulk)
    restarts.cold_start(ctx)
    load.load_intents(ctx, bulk, intents)
    throughput.baseline(ctx)
    throughput.gate_drain(ctx)
    gatecode.gate_code_alone(ctx)
    restarts.warm_restart(ctx)
    restarts.ingest_sample(ctx, bulk)
    latency(ctx, options.latency_load, options.latency_rate)
    optout_enforcement(ctx)
    ctx.worker.stop()
    scale.scale_out(ctx, bulk, options.scale_workers)
