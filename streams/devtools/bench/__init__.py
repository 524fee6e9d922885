"""`consentgate bench`: the gate against the raw Kafka limit, over the same input, in one run.

One run on the local stack (the one in KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL, else the
embedded stack, started for the run and stopped after it if it was not already running), on topics
and a consumer group of its own:

1. **State.** Partner agreements and 1,000,000 consent and opt-out records over 800,000
   recipients (about 10% of them opted out), from `streams.devtools.workload`, encoded up front and
   produced without waiting per record.

   The worker's agent does not apply them: at the ~1.4k records/s one faust worker manages on a
   2-core machine that alone would take twelve minutes. Two child processes apply them with the
   gate's own code (`Gate.apply_state_record` on a dict) and write every table write to the
   table's changelog topic, the records the worker would have written; the gate's consumer group
   is then committed at the end of the consent topics. The rate at which the live worker applies
   state records is measured separately, on a sample (step 5).
2. **Cold start.** The worker starts on an empty data directory and rebuilds the table from the
   changelog: *cold recovery* is the time from spawning it to faust's `Ready` (which faust logs
   once table recovery is complete and the agents run). Then it is stopped.
3. **Baseline.** 200,000 send intents (~70% promotional, 20% transactional, 10% legal and opt-out
   confirmations, ~1% invalid) are produced. A plain confluent-kafka loop in a child process
   consumes them, decodes each with `WireCodec.decode`, encodes a verdict-shaped record with
   `WireCodec.encode` and produces it: no decision, no state. What Python and Kafka allow here.
4. **The gate.** The worker restarts on its data directory and drains the same intents for at
   most `drain_seconds`; what is left is skipped (the group's offsets moved to the end).

   *Sustained verdicts/s*, for both: (verdicts - 1) / (broker timestamp of the last verdict -
   broker timestamp of the first), read back from the output topic. The bench creates the verdict
   topics with `message.timestamp.type=LogAppendTime`, like the intents topic, so every timestamp
   compared is the broker's.
5. **Warm restart** (a probe intent produced at spawn time gives the time to the first verdict),
   then **state ingest**: fresh consent records through the live worker.
6. **Latency at a fixed rate.** Fresh intents at `--latency-load` (default 60%) of the gate's
   measured rate. Decision latency is the verdict's broker append time minus its intent's broker
   append time (both LogAppendTime; the intent's comes back in its delivery report).
7. **Opt-out to enforcement.** For recipients whose promotional intent the gate allowed in step 4:
   produce an opt-out and wait for its acknowledgement, then at once a promotional intent for the
   same recipient; the sample is the time from the opt-out's ack to the deny verdict's arrival at
   a consumer in this process.

Peak worker memory is the largest VmHWM of the worker processes (/proc/PID/status, polled).
`--quick` runs the same steps on small sizes (about 30 seconds): CI proves the benchmark works
with it; its numbers mean nothing. `--json` prints only the report, one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import math
import multiprocessing
import os
import platform
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from streams import topics
from streams.settings import Settings, SettingsError

Log = Callable[[str], None]

BASELINE_TOPIC = "bench-baseline-verdicts"
CHANGELOG_SUFFIX = "-recipients-changelog"
FAUST_LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")
SEED_CHILDREN = 2
TICK_MS = 3  # streams.devtools.workload.Clock.tick's default step


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big one run is."""

    recipients: int
    consent_records: int
    intents: int
    drain_seconds: float
    ingest_sample: int
    latency_seconds: float
    latency_warmup_seconds: float
    optout_samples: int


FULL = Sizes(
    recipients=800_000,
    consent_records=1_000_000,
    intents=200_000,
    drain_seconds=120.0,
    ingest_sample=20_000,
    latency_seconds=30.0,
    latency_warmup_seconds=5.0,
    optout_samples=200,
)
QUICK = Sizes(
    recipients=8_000,
    consent_records=10_000,
    intents=5_000,
    drain_seconds=300.0,  # quick runs decide every intent: the window only bounds a hang
    ingest_sample=1_000,
    latency_seconds=5.0,
    latency_warmup_seconds=1.0,
    optout_samples=20,
)

TARGETS = {
    "gate_verdicts_per_s": ">= 25000",
    "ratio": ">= 0.5",
    "latency_p50_ms": "<= 5",
    "latency_p99_ms": "<= 25",
    "latency_p999_ms": "<= 100",
    "optout_enforcement_p99_ms": "<= 50",
    "cold_recovery_s": "<= 15",
    "warm_restart_s": "<= 5",
    "peak_rss_mb": "<= 2048",
}


class BenchError(RuntimeError):
    """The benchmark could not run to the end."""


# -------------------------------------------------------------------------------- command


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench", help="benchmark the gate against a plain Kafka loop on the local stack"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: proves it works")
    parser.add_argument("--json", action="store_true", help="print only the JSON report")
    parser.add_argument("--recipients", type=int, help="recipients the consent state covers")
    parser.add_argument("--consents", type=int, help="consent and opt-out records to load")
    parser.add_argument("--intents", type=int, help="send intents for the throughput runs")
    parser.add_argument("--drain-seconds", type=float, help="longest the gate drains intents")
    parser.add_argument("--partitions", type=int, help="partitions of the recipient topics")
    parser.add_argument("--latency-seconds", type=float, help="length of the fixed-rate run")
    parser.add_argument(
        "--latency-load", type=float, default=0.6, help="fixed rate, share of the gate's maximum"
    )
    parser.add_argument(
        "--latency-rate", type=float, help="fixed rate in intents/s (instead of --latency-load)"
    )
    parser.add_argument("--optout-samples", type=int, help="opt-out-to-enforcement samples")
    parser.add_argument("--work-dir", type=Path, help="worker data and logs (default: a temp dir)")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and work dir")
    parser.add_argument("--kafka-version", help="label the broker version of an external stack")
    parser.set_defaults(func=run)


def sizes_from(args: argparse.Namespace) -> Sizes:
    base = QUICK if args.quick else FULL
    consents = args.consents or base.consent_records
    recipients = args.recipients or (
        max(1, consents * base.recipients // base.consent_records)
        if args.consents
        else base.recipients
    )
    latency_s = args.latency_seconds or base.latency_seconds
    return Sizes(
        recipients=recipients,
        consent_records=consents,
        intents=args.intents or base.intents,
        drain_seconds=args.drain_seconds or base.drain_seconds,
        ingest_sample=min(base.ingest_sample, consents),
        latency_seconds=latency_s,
        latency_warmup_seconds=min(base.latency_warmup_seconds, latency_s / 4),
        optout_samples=(
            base.optout_samples if args.optout_samples is None else args.optout_samples
        ),
    )


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"consentgate bench: bad setting: {exc}", file=sys.stderr)
        return 2
    if args.partitions:
        settings = settings.replace(partitions=args.partitions)
    bench = Bench(
        settings,
        sizes_from(args),
        mode="quick" if args.quick else "full",
        latency_load=args.latency_load,
        latency_rate=args.latency_rate,
        work_dir=args.work_dir,
        keep=args.keep,
        kafka_version=args.kafka_version,
        log=_progress,
    )
    try:
        report = bench.run()
    except KeyboardInterrupt:
        print("consentgate bench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"consentgate bench: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report), flush=True)
    else:
        print(render_table(report), flush=True)
    return 0


def _progress(message: str) -> None:
    print(f"consentgate bench: {message}", file=sys.stderr, flush=True)


# -------------------------------------------------------------------------------- small tools


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (any order); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def rate(count: int, first_ms: int, last_ms: int) -> float:
    """(count - 1) records over the span between the first and the last broker timestamp."""
    if count < 2:
        return 0.0
    span_s = max(last_ms - first_ms, 1) / 1000.0
    return (count - 1) / span_s


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    return {
        "cpus": os.cpu_count() or 0,
        "cpu_model": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions(kafka_version: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    import confluent_kafka

    found = {"python": platform.python_version(), "kafka_broker": kafka_version}
    for name in ("faust-streaming", "aiokafka", "confluent-kafka", "fastavro", "rocksdict"):
        try:
            found[name] = dist_version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    found["librdkafka"] = str(confluent_kafka.libversion()[0])
    return found


def proc_status_kb(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time of a process, 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


class MemorySampler:
    """Polls VmHWM (peak resident set) of the processes it is told about."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.peak_kb: dict[int, int] = {}
        self._pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def watch(self, pid: int) -> None:
        self._pids.add(pid)
        self.sample(pid)

    def sample(self, pid: int) -> None:
        hwm = proc_status_kb(pid, "VmHWM")
        if hwm:
            self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), hwm)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in list(self._pids):
                self.sample(pid)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def peak_mb(self) -> float:
        return max(self.peak_kb.values(), default=0) / 1024.0


# -------------------------------------------------------------------------------- Kafka reading


def _consumer(bootstrap: str, **extra: Any) -> Any:
    from confluent_kafka import Consumer

    config = {
        "bootstrap.servers": bootstrap,
        "group.id": f"bench-reader-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "log_level": 3,
    }
    config.update(extra)
    return Consumer(config)


def partitions_of(consumer: Any, topic: str) -> list[int]:
    metadata = consumer.list_topics(topic, timeout=10)
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        raise BenchError(f"topic {topic} not found")
    return sorted(described.partitions)


def end_offsets(consumer: Any, topic: str) -> dict[int, int]:
    from confluent_kafka import TopicPartition

    return {
        p: int(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
        for p in partitions_of(consumer, topic)
    }


def topic_end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = _consumer(bootstrap)
    try:
        return end_offsets(consumer, topic)
    finally:
        consumer.close()


@dataclass(slots=True)
class Record:
    key: bytes
    timestamp_ms: int
    value: bytes


def read_range(
    bootstrap: str,
    topic: str,
    start: dict[int, int] | None,
    stop: dict[int, int],
    timeout: float = 300.0,
) -> list[Record]:
    """Every record of `topic` from `start` (default: the beginning) up to `stop`, exclusive."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    start = start or {}
    consumer = _consumer(bootstrap, **{"fetch.max.bytes": 64 * 1024 * 1024})
    try:
        wanted = {p: end for p, end in stop.items() if end > start.get(p, 0)}
        consumer.assign([TopicPartition(topic, p, start.get(p, OFFSET_BEGINNING)) for p in wanted])
        found: list[Record] = []
        deadline = time.monotonic() + timeout
        while wanted:
            if time.monotonic() > deadline:
                raise BenchError(f"{topic}: records missing below {wanted} after {timeout:g}s")
            for message in consumer.consume(5000, 0.5):
                if message.error():
                    continue
                partition, offset = message.partition(), message.offset()
                end = wanted.get(partition)
                if end is None or offset >= end:
                    continue
                found.append(Record(message.key() or b"", message.timestamp()[1], message.value()))
                if offset + 1 >= end:
                    del wanted[partition]
        return found
    finally:
        consumer.close()


class GroupWatcher:
    """Committed offsets of a consumer group, without joining it."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self._consumer = _consumer(bootstrap, **{"group.id": group})

    def behind(self, names: list[str]) -> int:
        """Records of `names` the group has not committed yet."""
        from confluent_kafka import TopicPartition

        behind = 0
        for topic in names:
            ends = end_offsets(self._consumer, topic)
            committed = self._consumer.committed(
                [TopicPartition(topic, p) for p in ends], timeout=10
            )
            for tp in committed:
                done = tp.offset if tp.offset >= 0 else 0
                behind += max(0, ends[tp.partition] - done)
        return behind

    def close(self) -> None:
        self._consumer.close()


def commit_group_at_end(bootstrap: str, group: str, names: list[str]) -> None:
    """Set the (empty) group's committed offsets of `names` to the topics' ends."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    offsets = [
        TopicPartition(topic, p, end)
        for topic in names
        for p, end in topic_end_offsets(bootstrap, topic).items()
    ]
    last: Exception | None = None
    for _ in range(60):  # a member that just left can take a moment to be gone
        try:
            futures = admin.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group, offsets)]
            )
            for future in futures.values():
                future.result()
            return
        except Exception as exc:
            last = exc
            time.sleep(0.5)
    raise BenchError(f"could not commit {group} at the end of {names}: {last}")


# -------------------------------------------------------------------------------- the workload


def state_stream(recipients: list[Any]) -> tuple[list[dict[str, Any]], Iterator[dict[str, Any]]]:
    """Partner records and the (lazy) consent records, as every process of a run sees them."""
    from streams.devtools.workload import Clock, consent_records, partner_records

    clock = Clock()
    return partner_records(clock), consent_records(recipients, clock)


def clock_after_state(consent_count: int, partner_count: int) -> Any:
    """The workload clock as it stands once the state records have been generated."""
    from streams.devtools.workload import BASE_TIME, Clock

    ticks = consent_count + partner_count
    return Clock(BASE_TIME + timedelta(milliseconds=TICK_MS * ticks))


def share_of(key: str, shares: int) -> int:
    return zlib.crc32(key.encode()) % shares


class _NoAgreements:
    current: Any = None


class _CountingOutputs:
    """Outputs of offline state application: nothing is sent, dead letters are counted."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def send(self, spec: Any, key: bytes | None, value: bytes, on_ack: Any = None) -> None:
        self.sent[spec.base] += 1


class ChangelogWriter(dict[bytes, bytes]):
    """The table as a dict that also writes every assignment to the table's changelog topic,
    as faust does for the worker's table."""

    def __init__(self, producer: Any, topic: str) -> None:
        super().__init__()
        self._producer = producer
        self._topic = topic
        self.writes = 0

    def __setitem__(self, key: bytes, value: bytes) -> None:
        super().__setitem__(key, value)
        self.writes += 1
        while True:
            try:
                self._producer.produce(self._topic, value, key)
                return
            except BufferError:
                self._producer.poll(0.05)


def seed_state_main(
    share: int,
    shares: int,
    bootstrap: str,
    registry_url: str,
    prefix: str,
    changelog_topic: str,
    recipient_count: int,
    consent_count: int,
    results: Any,
) -> None:
    """Child process: this share of the consent records onto their topics, and the table state
    they build (the gate's own code) onto the changelog."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from connectors.producer import producer_config, record_key, wire_record
    from streams.devtools.workload import make_recipients
    from streams.metrics import GateMetrics
    from streams.policy.state import Agreements
    from streams.runtime.gate import Gate, Inbound
    from streams.serdes import WireCodec

    logging.getLogger("streams.runtime.gate").setLevel(logging.ERROR)  # dead letters are counted
    settings = Settings.from_env()
    codec = WireCodec(SchemaRegistryClient({"url": registry_url}), topic_prefix=prefix)
    codec.prefetch((topics.CONSENT, topics.OPTOUT))
    producer = Producer(
        producer_config(
            bootstrap,
            **{
                "linger.ms": 50,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 1_000_000,
                "queue.buffering.max.kbytes": 1_048_576,
            },
        )
    )
    store = ChangelogWriter(producer, changelog_topic)
    outputs = _CountingOutputs()
    agreements = _NoAgreements()
    agreements.current = Agreements()
    gate = Gate(
        codec=codec,
        store=store,
        agreements=agreements,
        outputs=outputs,
        metrics=GateMetrics(),
        config=settings.policy,
        names={spec.base: spec.name(prefix) for spec in topics.ALL},
    )
    started = time.monotonic()
    recipients = make_recipients(recipient_count)
    _, consents = state_stream(recipients)
    kinds: Counter[str] = Counter()
    opted_out: set[str] = set()
    now = time.time()
    for n, record in enumerate(islice(consents, consent_count)):
        key = record_key(record)
        if share_of(key, shares) != share:
            continue
        spec = topics.TOPIC_OF_RECORD_TYPE[record["type"]]
        value = codec.encode(spec, wire_record(record))
        raw_key = key.encode()
        while True:
            try:
                producer.produce(spec.name(prefix), value, raw_key)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        gate.apply_state_record(spec, Inbound(spec.name(prefix), 0, n, raw_key, value, now))
        kinds[record["type"]] += 1
        if record["type"] == "optout":
            opted_out.add(key)
    remaining = producer.flush(300)
    results.send(
        {
            "share": share,
            "consent": kinds["consent"],
            "optout": kinds["optout"],
            "opted_out_recipients": len(opted_out),
            "changelog_records": store.writes,
            "table_keys": len(store),
            "dead_letters": outputs.sent[topics.DEAD_LETTERS.base],
            "unflushed": remaining,
            "seconds": time.monotonic() - started,
        }
    )


# -------------------------------------------------------------------------------- baseline child


def baseline_verdict(decoded: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A verdict-shaped record for a decoded intent, without deciding anything."""
    return {
        "id": decoded["id"],
        "decision": "allow",
        "reason": "BASELINE",
        "reasons": ["BASELINE"],
        "policy_version": "baseline",
        "decided_at": now,
        "channel": decoded.get("channel"),
        "sender": decoded.get("sender"),
        "category": decoded.get("category"),
        "rules_evaluated": [],
        "intent_at": decoded.get("at"),
        "detail": None,
    }


def baseline_main(
    bootstrap: str,
    registry_url: str,
    prefix: str,
    out_topic: str,
    expected: int,
    results: Any,
) -> None:
    """The baseline loop (runs in a child process): consume, decode, encode, produce."""
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from connectors.producer import producer_config
    from streams.serdes import DecodeError, WireCodec

    codec = WireCodec(SchemaRegistryClient({"url": registry_url}), topic_prefix=prefix)
    codec.prefetch((topics.INTENTS, topics.VERDICTS))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{prefix}baseline",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    # acks=all and idempotence like every consentgate producer; no compression, like the gate's.
    producer = Producer(producer_config(bootstrap, **{"compression.type": "none"}))
    consumer.subscribe([topics.INTENTS.name(prefix)])
    consumed = produced = undecodable = 0
    started = time.monotonic()
    last_commit = started
    produce, encode, decode = producer.produce, codec.encode, codec.decode
    try:
        while consumed < expected:
            batch = consumer.consume(1000, 0.5)
            now = datetime.now(UTC)
            for message in batch:
                if message.error():
                    continue
                consumed += 1
                try:
                    decoded = decode(topics.INTENTS, message.value())
                except DecodeError:
                    undecodable += 1
                    continue
                value = encode(topics.VERDICTS, baseline_verdict(decoded, now))
                key = decoded["id"].encode()
                while True:
                    try:
                        produce(out_topic, value, key)
                        break
                    except BufferError:
                        producer.poll(0.01)
                produced += 1
            producer.poll(0)
            if time.monotonic() - last_commit >= 1.0:
                consumer.commit(asynchronous=True)
                last_commit = time.monotonic()
        producer.flush(60)
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    results.send(
        {
            "consumed": consumed,
            "produced": produced,
            "undecodable": undecodable,
            "wall_s": round(time.monotonic() - started, 2),
        }
    )


# -------------------------------------------------------------------------------- the bench


@dataclass
class BenchState:
    """What the steps hand each other."""

    recipients: list[Any] = field(default_factory=list)
    intents_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    allowed_promotional: list[str] = field(default_factory=list)
    gate_rate: float = 0.0
    clock: Any = None


class Bench:
    def __init__(
        self,
        settings: Settings,
        sizes: Sizes,
        *,
        mode: str,
        latency_load: float = 0.6,
        latency_rate: float | None = None,
        work_dir: Path | None = None,
        keep: bool = False,
        kafka_version: str | None = None,
        log: Log = _progress,
    ) -> None:
        self.settings = settings
        self.sizes = sizes
        self.mode = mode
        self.latency_load = latency_load
        self.latency_rate = latency_rate
        self.keep = keep
        self.kafka_version_label = kafka_version
        self.log = log
        self.run_id = f"bench-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
        self._own_work_dir = work_dir is None
        self.work_dir = (
            Path(tempfile.mkdtemp(prefix=f"consentgate-{self.run_id}-"))
            if work_dir is None
            else work_dir / self.run_id
        )
        self.phases: dict[str, float] = {}
        self.report: dict[str, Any] = {}
        self.state = BenchState()
        self.memory = MemorySampler()
        self.worker: Any = None
        self.broker_pid: int | None = None
        self.codec: Any = None
        self._t0 = time.monotonic()

    # ---------------------------------------------------------------- plumbing

    def say(self, message: str) -> None:
        self.log(f"[{time.monotonic() - self._t0:6.1f}s] {message}")

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        self.say(f"{name} ...")
        yield
        took = time.monotonic() - started
        self.phases[name] = round(took, 2)
        self.say(f"{name}: {took:.1f}s")

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

    @contextlib.contextmanager
    def stack(self) -> Iterator[tuple[str, str, str]]:
        """(bootstrap, registry url, broker version): from the environment, else embedded."""
        from streams.devtools.localstack import LocalStack
        from streams.devtools.localstack.stack import KAFKA

        env_bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        env_registry = os.environ.get("SCHEMA_REGISTRY_URL", "")
        local = LocalStack(self.settings, log=self.say)
        if env_bootstrap and env_registry:
            label = self.kafka_version_label or "unknown (external stack)"
            pid = local.running_pid(KAFKA)
            if pid is not None and local.endpoints().bootstrap_servers == env_bootstrap:
                label = self.kafka_version_label or local.kafka_version()
                self.broker_pid = pid
            yield env_bootstrap, env_registry, label
            return
        if env_bootstrap or env_registry:
            raise BenchError("set both KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL, or neither")
        endpoints = local.up()
        self.broker_pid = local.running_pid(KAFKA)
        started = endpoints.started
        if started:
            self.say(f"started the embedded stack ({', '.join(started)})")
        try:
            yield (
                endpoints.bootstrap_servers,
                endpoints.schema_registry_url,
                self.kafka_version_label or endpoints.kafka_version,
            )
        finally:
            if started:
                self.say("stopping the embedded stack it started")
                local.down()

    # ---------------------------------------------------------------- run

    def run(self) -> dict[str, Any]:
        started_at = datetime.now(UTC)
        self.memory.start()
        try:
            with self.stack() as (bootstrap, registry_url, broker_version):
                self.report["machine"] = machine()
                self.report["versions"] = versions(broker_version)
                self.settings = self.settings.replace(
                    kafka_bootstrap_servers=bootstrap,
                    schema_registry_url=registry_url,
                    app_id=f"{self.run_id}-gate",
                    topic_prefix=f"{self.run_id}.",
                    data_dir=self.work_dir / "worker-data",
                    web_port=free_port(),
                    log_level="info",
                )
                try:
                    self._run_steps()
                finally:
                    self._stop_worker()
                    if not self.keep:
                        self._delete_topics()
        finally:
            self.memory.stop()
            if self._own_work_dir and not self.keep:
                shutil.rmtree(self.work_dir, ignore_errors=True)
        self.report["peak_rss_mb"] = round(self.memory.peak_mb, 1)
        self.report["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        self.report["run"] = {
            "id": self.run_id,
            "mode": self.mode,
            "started_at": started_at.isoformat(timespec="seconds"),
            "duration_s": round(time.monotonic() - self._t0, 1),
            "phases_s": self.phases,
            "partitions": self.settings.partitions,
            "store": self.settings.store,
        }
        self.report["sizes"] = asdict(self.sizes)
        self.report["definitions"] = DEFINITIONS
        return self._ordered()

    def _ordered(self) -> dict[str, Any]:
        first = (
            "gate_verdicts_per_s", "baseline_per_s", "ratio",
            "latency_p50_ms", "latency_p99_ms", "latency_p999_ms",
            "optout_enforcement_p50_ms", "optout_enforcement_p99_ms",
            "cold_recovery_s", "warm_restart_s", "peak_rss_mb",
        )  # fmt: skip
        ordered = {key: self.report[key] for key in first if key in self.report}
        ordered.update((k, v) for k, v in self.report.items() if k not in ordered)
        return ordered

    def _run_steps(self) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        from connectors.producer import GateProducer
        from streams.serdes import WireCodec

        with self.phase("topics and schemas"):
            self._create_topics()
            self.codec = WireCodec(
                SchemaRegistryClient({"url": self.settings.schema_registry_url}),
                topic_prefix=self.prefix,
            )
            self.codec.register_all()
        bulk = GateProducer(
            self.bootstrap,
            self.codec,
            topic_prefix=self.prefix,
            **{
                "linger.ms": 20,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 1_000_000,
                "queue.buffering.max.kbytes": 1_048_576,
            },
        )
        intents = self._load_state_and_generate_intents(bulk)
        self._cold_start()
        self._load_intents(bulk, intents)
        self._baseline()
        self._gate_drain()
        self._warm_restart()
        self._ingest_sample(bulk)
        self._latency()
        self._optout_enforcement()
        self._stop_worker()

    # ---------------------------------------------------------------- topics

    def _create_topics(self) -> None:
        from confluent_kafka.admin import NewTopic

        from streams.runtime.admin import admin_client, ensure_topics

        admin = admin_client(self.settings)
        partitions = self.settings.partitions
        replication = self.settings.replication_factor
        # Broker time on the verdict topics too, so that every timestamp compared is the broker's.
        append_time = {"message.timestamp.type": "LogAppendTime"}
        created = admin.create_topics(
            [
                NewTopic(self.topic(topics.VERDICTS), partitions, replication, config=append_time),
                NewTopic(f"{self.prefix}{BASELINE_TOPIC}", partitions, replication,
                         config=append_time),
                # As faust declares it: one partition per recipient partition, compacted.
                NewTopic(self.changelog_topic, partitions, replication,
                         config={"cleanup.policy": "compact"}),
            ],
            operation_timeout=30,
        )  # fmt: skip
        for future in created.values():
            future.result()
        layout = ensure_topics(self.settings, admin)
        if layout.recipient_partitions != partitions:
            raise BenchError(f"recipient topics have {layout.recipient_partitions} partitions")

    def _delete_topics(self) -> None:
        from streams.runtime.admin import admin_client

        try:
            admin = admin_client(self.settings)
            names = [
                name
                for name in admin.list_topics(timeout=10).topics
                if name.startswith((self.prefix, self.settings.app_id))
            ]
            if names:
                for future in admin.delete_topics(names, operation_timeout=30).values():
                    with contextlib.suppress(Exception):
                        future.result()
                self.say(f"deleted the {len(names)} topics of this run")
        except Exception as exc:  # cleanup must not hide the run's own outcome
            self.say(f"could not delete this run's topics: {exc}")

    # ---------------------------------------------------------------- load

    def _load_state_and_generate_intents(self, bulk: Any) -> list[tuple[Any, str, bytes]]:
        """The consent state through the seeding children; meanwhile, the intents here."""
        from streams.devtools.workload import intent_records, make_recipients

        sizes = self.sizes
        context = multiprocessing.get_context("spawn")
        pipes = []
        children = []
        started = time.monotonic()
        broker_cpu = cpu_seconds(self.broker_pid)
        with self.phase("load the consent state and seed the changelog"):
            for share in range(SEED_CHILDREN):
                receive, send = context.Pipe(duplex=False)
                child = context.Process(
                    target=seed_state_main,
                    args=(
                        share, SEED_CHILDREN, self.bootstrap, self.settings.schema_registry_url,
                        self.prefix, self.changelog_topic, sizes.recipients,
                        sizes.consent_records, send,
                    ),
                    name=f"consentgate-bench-seed-{share}",
                    daemon=True,
                )  # fmt: skip
                child.start()
                children.append(child)
                pipes.append(receive)
            # Meanwhile: partner agreements, and the intents, encoded up front.
            recipients = make_recipients(sizes.recipients)
            partners, _ = state_stream(recipients)
            for record in partners:
                bulk.publish(record, wait=False)
            bulk.flush()
            self.state.recipients = recipients
            self.state.clock = clock_after_state(sizes.consent_records, len(partners))
            generated = time.monotonic()
            intent_list = list(intent_records(recipients, sizes.intents, self.state.clock))
            encoded = [bulk.encode(record) for record in intent_list]
            encode_s = time.monotonic() - generated
            results = []
            for child, receive in zip(children, pipes, strict=True):
                while not receive.poll(1.0):
                    if not child.is_alive():
                        raise BenchError(f"a seeding child exited ({child.exitcode})")
                results.append(receive.recv())
                child.join(30)
            load_s = time.monotonic() - started
        broker_cpu = cpu_seconds(self.broker_pid) - broker_cpu
        commit_group_at_end(
            self.bootstrap, self.settings.app_id,
            [self.topic(topics.CONSENT), self.topic(topics.OPTOUT)],
        )  # fmt: skip
        self.state.intents_by_id = {record["id"]: record for record in intent_list}
        consent = sum(r["consent"] for r in results)
        optout = sum(r["optout"] for r in results)
        changelog_records = sum(r["changelog_records"] for r in results)
        categories = Counter(record["category"] for record in intent_list)
        invalid = sum(
            1
            for record in intent_list
            if record["channel"] == "pigeon" or record["address"] == "not-an-address"
        )
        self.report["workload"] = {
            "recipients": len(recipients),
            "consent_records": consent + optout,
            "grants_and_confirms": consent,
            "optouts": optout,
            "opted_out_recipients_share": round(
                sum(r["opted_out_recipients"] for r in results) / max(1, len(recipients)), 4
            ),
            "state_records_dead_lettered": sum(r["dead_letters"] for r in results),
            "table_keys": sum(r["table_keys"] for r in results),
            "changelog_records": changelog_records,
            "partner_records": len(partners),
            "intents": len(intent_list),
            "intent_mix": {
                k: round(v / max(1, len(intent_list)), 4) for k, v in sorted(categories.items())
            },
            "invalid_intents_share": round(invalid / max(1, len(intent_list)), 4),
            "mean_intent_bytes": round(sum(len(v) for _, _, v in encoded) / max(1, len(encoded))),
        }
        self.report["load"] = {
            "state_seconds": round(load_s, 2),
            "state_records_per_s": round((consent + optout) / load_s),
            "state_children": SEED_CHILDREN,
            "state_child_seconds": [round(r["seconds"], 1) for r in results],
            "state_broker_cpu_s": round(broker_cpu, 1) if self.broker_pid else None,
            "intents_generate_encode_s": round(encode_s, 2),
            "note": "state: generate, encode, produce and apply (gate code) in "
            f"{SEED_CHILDREN} child processes, changelog written as the worker would",
        }
        self.say(
            f"{consent + optout} consent records over {len(recipients)} recipients loaded, "
            f"{changelog_records} changelog records; {len(intent_list)} intents encoded"
        )
        return encoded

    def _produce(self, bulk: Any, encoded: list[tuple[Any, str, bytes]]) -> float:
        started = time.monotonic()
        publish = bulk.publish_encoded
        for spec, key, value in encoded:
            publish(spec, key, value, wait=False)
        bulk.flush(300)
        return time.monotonic() - started

    def _load_intents(self, bulk: Any, intents: list[tuple[Any, str, bytes]]) -> None:
        with self.phase("load the send intents"):
            took = self._produce(bulk, intents)
        self.report["load"].update(
            intents_produce_s=round(took, 2),
            intents_produce_per_s=round(len(intents) / took),
        )

    # ---------------------------------------------------------------- the worker

    def _start_worker(self, timeout: float = 1200.0) -> Any:
        from streams.devtools.runner import WorkerProcess

        worker = WorkerProcess(self.settings, self.work_dir / "worker.log")
        self.worker = worker
        # Watch memory from the first moment, not only once it is ready.
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

    def _stop_worker(self) -> None:
        if self.worker is not None and self.worker.alive():
            self.memory.sample(self.worker.process.pid)
            self.worker.stop(timeout=60)
        self.worker = None

    def _wait_committed(self, names: list[str], timeout: float, what: str) -> bool:
        """Until the gate's group committed everything in `names` (True) or `timeout` (False)."""
        watcher = GroupWatcher(self.bootstrap, self.settings.app_id)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.worker is not None and not self.worker.alive():
                    raise BenchError(f"the worker exited while {what}:\n{self.worker.log_tail()}")
                if watcher.behind(names) == 0:
                    return True
                time.sleep(0.5)
            return False
        finally:
            watcher.close()

    def _log_offset(self) -> int:
        log_path = self.work_dir / "worker.log"
        return log_path.stat().st_size if log_path.exists() else 0

    # ---------------------------------------------------------------- baseline

    def _baseline(self) -> None:
        out_topic = f"{self.prefix}{BASELINE_TOPIC}"
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(
            target=baseline_main,
            args=(
                self.bootstrap, self.settings.schema_registry_url, self.prefix, out_topic,
                self.sizes.intents, send,
            ),
            name="consentgate-bench-baseline",
            daemon=True,
        )  # fmt: skip
        with self.phase("baseline: plain confluent-kafka loop"):
            broker_cpu = cpu_seconds(self.broker_pid)
            child.start()
            pid = child.pid
            assert pid is not None
            child_cpu = 0.0
            child_rss = 0
            result: dict[str, Any] | None = None
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline:
                child_cpu = max(child_cpu, cpu_seconds(pid))
                child_rss = max(child_rss, proc_status_kb(pid, "VmHWM"))
                if receive.poll(0.25):
                    result = receive.recv()
                    break
                if not child.is_alive():
                    break
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join(5)
            broker_cpu = cpu_seconds(self.broker_pid) - broker_cpu
        if result is None:
            raise BenchError(f"the baseline child ended without a result (exit {child.exitcode})")
        out = read_range(
            self.bootstrap, out_topic, None, topic_end_offsets(self.bootstrap, out_topic)
        )
        stamps = [r.timestamp_ms for r in out]
        per_s = rate(len(out), min(stamps, default=0), max(stamps, default=0))
        span = (max(stamps, default=0) - min(stamps, default=0)) / 1000
        self.report["baseline_per_s"] = round(per_s)
        self.report["baseline"] = {
            **result,
            "verdicts": len(out),
            "span_s": round(span, 3),
            "cpu_s": round(child_cpu, 2),
            "cpu_ms_per_verdict": round(child_cpu / max(1, len(out)) * 1000, 3),
            "broker_cpu_s": round(broker_cpu, 2) if self.broker_pid else None,
            "peak_rss_mb": round(child_rss / 1024, 1),
        }
        self.say(f"baseline: {per_s:,.0f} verdicts/s over {len(out)} records")

    # ---------------------------------------------------------------- the gate

    def _cold_start(self) -> None:
        """The first start, on an empty data directory: the table comes from the changelog."""
        changelog_records = sum(topic_end_offsets(self.bootstrap, self.changelog_topic).values())
        log_offset = self._log_offset()
        with self.phase("the gate: cold start (state from the changelog)"):
            worker = self._start_worker()
        ready_s = worker.ready_after_s or 0.0
        ready_cpu = cpu_seconds(worker.process.pid)
        replay_s = changelog_replay_seconds(self.work_dir / "worker.log", log_offset)
        with self.phase("stop the worker"):
            self._stop_worker()
        self.report["cold_recovery_s"] = round(ready_s, 2)
        self.report["cold"] = {
            "ready_s": round(ready_s, 2),
            "worker_cpu_s_to_ready": round(ready_cpu, 2),
            "changelog_replay_s": replay_s,
            "changelog_records": changelog_records,
            "changelog_replay_per_s": round(changelog_records / replay_s) if replay_s else None,
        }
        self.say(
            f"cold start: ready after {ready_s:.1f}s, changelog replay {replay_s}s over "
            f"{changelog_records} records"
        )

    def _verdicts_so_far(self) -> int:
        """Verdicts the running worker has written (its own counter: it starts at 0)."""
        try:
            text = self.worker.scrape()
        except OSError:
            return 0
        return int(
            sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("consentgate_verdicts_total{")
            )
        )

    def _gate_drain(self) -> None:
        """The worker restarts on its data directory and drains the pre-filled intents."""
        from streams.policy.engine import ALLOW

        intents_topic = self.topic(topics.INTENTS)
        verdicts_topic = self.topic(topics.VERDICTS)
        start = topic_end_offsets(self.bootstrap, verdicts_topic)
        window = self.sizes.drain_seconds
        with self.phase("the gate: start on the pre-filled intents"):
            worker = self._start_worker()
        pid = worker.process.pid
        with self.phase(f"the gate drains the intents (at most {window:g}s)"):
            broker_cpu = cpu_seconds(self.broker_pid)
            cpu_before = cpu_seconds(pid)
            deadline = time.monotonic() + window
            decided = 0
            while time.monotonic() < deadline:
                if not worker.alive():
                    raise BenchError(f"the worker exited while deciding:\n{worker.log_tail()}")
                decided = self._verdicts_so_far()
                if decided >= self.sizes.intents:
                    break
                time.sleep(0.5)
            cpu = cpu_seconds(pid) - cpu_before
            broker_cpu = cpu_seconds(self.broker_pid) - broker_cpu
            self._stop_worker()
            drained = decided >= self.sizes.intents
            if not drained:  # skip what is left, so that the next steps start on a live topic
                commit_group_at_end(self.bootstrap, self.settings.app_id, [intents_topic])
        verdicts = read_range(
            self.bootstrap, verdicts_topic, start, topic_end_offsets(self.bootstrap, verdicts_topic)
        )
        stamps = [r.timestamp_ms for r in verdicts]
        first_ms, last_ms = min(stamps, default=0), max(stamps, default=0)
        per_s = rate(len(verdicts), first_ms, last_ms)
        span = (last_ms - first_ms) / 1000
        self.state.gate_rate = per_s
        decisions: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for record in verdicts:
            verdict = self.codec.decode(topics.VERDICTS, record.value)
            decisions[verdict["decision"]] += 1
            reasons[verdict["reason"]] += 1
            if verdict["decision"] == ALLOW and verdict["category"] == "promotional":
                self.state.allowed_promotional.append(verdict["id"])
        ids = {record.key for record in verdicts}
        self.report["gate_verdicts_per_s"] = round(per_s)
        self.report["gate"] = {
            "verdicts": len(verdicts),
            "intents": self.sizes.intents,
            "drained_all": drained,
            "distinct_intents_decided": len(ids),
            "span_s": round(span, 3),
            "ready_s": round(worker.ready_after_s or 0.0, 2),
            "worker_cpu_s": round(cpu, 2),
            "worker_cpu_ms_per_verdict": round(cpu / max(1, len(verdicts)) * 1000, 3),
            "broker_cpu_s": round(broker_cpu, 2) if self.broker_pid else None,
            "broker_cpu_ms_per_verdict": (
                round(broker_cpu / max(1, len(verdicts)) * 1000, 3) if self.broker_pid else None
            ),
            "decisions": dict(decisions),
            "top_reasons": dict(reasons.most_common(10)),
        }
        baseline = self.report.get("baseline_per_s") or 0
        self.report["ratio"] = round(per_s / baseline, 4) if baseline else 0.0
        self.say(f"gate: {per_s:,.0f} verdicts/s over {len(verdicts)} verdicts")

    def _warm_restart(self) -> None:
        from confluent_kafka import TopicPartition

        from connectors.producer import GateProducer

        verdicts_topic = self.topic(topics.VERDICTS)
        start = topic_end_offsets(self.bootstrap, verdicts_topic)
        probe = self._probe_intent("warm")
        producer = GateProducer(self.bootstrap, self.codec, topic_prefix=self.prefix)
        with self.phase("warm restart"):
            spawned = time.monotonic()
            producer.publish(probe, wait=True)  # waits in the topic: the worker's first verdict
            worker = self._start_worker()
            ready_cpu = cpu_seconds(worker.process.pid)
            consumer = _consumer(self.bootstrap)
            consumer.assign([TopicPartition(verdicts_topic, p, o) for p, o in start.items()])
            self._await_verdict(consumer, probe["id"], timeout=120)
            first_verdict_s = time.monotonic() - spawned
            consumer.close()
        ready_s = worker.ready_after_s or 0.0
        self.report["warm_restart_s"] = round(ready_s, 2)
        self.report["warm"] = {
            "ready_s": round(ready_s, 2),
            "worker_cpu_s_to_ready": round(ready_cpu, 2),
            "first_verdict_s": round(first_verdict_s, 2),
        }
        self.say(f"warm restart: ready after {ready_s:.1f}s, first verdict {first_verdict_s:.1f}s")

    def _probe_intent(self, kind: str) -> dict[str, Any]:
        if not self.state.allowed_promotional:
            raise BenchError("the gate allowed no promotional intent: nothing to probe with")
        original = self.state.intents_by_id[self.state.allowed_promotional[-1]]
        return dict(original, id=f"bench-probe-{kind}", at=self.state.clock.tick())

    def _ingest_sample(self, bulk: Any) -> None:
        """The live worker applying fresh consent records: its state ingest rate."""
        from streams.devtools.workload import consent_records

        count = self.sizes.ingest_sample
        fresh = []
        for record in islice(
            consent_records(self.state.recipients, self.state.clock, seed=97), count
        ):
            record["id"] = f"S{record['id']}"
            fresh.append(bulk.encode(record))
        pid = self.worker.process.pid
        with self.phase(f"the gate applies {count} fresh consent records"):
            cpu_before = cpu_seconds(pid)
            started = time.monotonic()
            self._produce(bulk, fresh)
            self._wait_committed(
                [self.topic(topics.CONSENT), self.topic(topics.OPTOUT)],
                timeout=600,
                what="applying consent records",
            )
            took = time.monotonic() - started
            cpu = cpu_seconds(pid) - cpu_before
        self.report["state_ingest"] = {
            "records": count,
            "seconds": round(took, 2),
            "records_per_s": round(count / took),
            "worker_cpu_ms_per_record": round(cpu / count * 1000, 3),
            "note": "produce to committed (1 s commit interval, polled every 0.5 s)",
        }

    # ---------------------------------------------------------------- latency

    def _latency(self) -> None:
        from confluent_kafka import Producer

        from connectors.producer import producer_config, record_key, wire_record
        from streams.devtools.workload import intent_records

        target = self.latency_rate or max(1.0, self.state.gate_rate * self.latency_load)
        count = max(10, int(target * self.sizes.latency_seconds))
        encoded: list[tuple[str, bytes, bytes]] = []
        for record in intent_records(self.state.recipients, count, self.state.clock, seed=101):
            record["id"] = f"L{record['id']}"
            value = self.codec.encode(topics.INTENTS, wire_record(record))
            encoded.append((record["id"], record_key(record).encode(), value))
        start = topic_end_offsets(self.bootstrap, self.topic(topics.VERDICTS))
        producer = Producer(producer_config(self.bootstrap, **{"linger.ms": 1}))
        intents_topic = self.topic(topics.INTENTS)
        appended: dict[str, int] = {}
        errors: list[str] = []

        def delivered(intent_id: str, error: Any, message: Any) -> None:
            if error is not None:
                errors.append(str(error))
            else:
                appended[intent_id] = message.timestamp()[1]

        histogram_before = self._latency_histogram()
        with self.phase(f"fixed rate: {target:,.0f} intents/s for {self.sizes.latency_seconds:g}s"):
            sent = 0
            began = time.perf_counter()
            late_max = 0.0
            while sent < count:
                due = min(count, int((time.perf_counter() - began) * target) + 1)
                late_max = max(late_max, (due - sent - 1) / target)
                while sent < due:
                    intent_id, key, value = encoded[sent]
                    try:
                        producer.produce(
                            intents_topic, value, key,
                            on_delivery=functools.partial(delivered, intent_id),
                        )  # fmt: skip
                    except BufferError:
                        producer.poll(0.001)
                        continue
                    sent += 1
                producer.poll(0)
                pause = began + (sent + 1) / target - time.perf_counter()
                if pause > 0:
                    time.sleep(min(pause, 0.002))
            producer.flush(60)
            offered_s = time.perf_counter() - began
        if errors:
            raise BenchError(f"{len(errors)} fixed-rate intents not acknowledged: {errors[0]}")
        with self.phase("collect the fixed-rate verdicts"):
            verdicts = self._collect_verdicts(start, set(appended), timeout=600)
        histogram_after = self._latency_histogram()
        warmup_ms = self.sizes.latency_warmup_seconds * 1000
        first_ms = min(appended.values(), default=0)
        samples = [
            float(verdicts[i] - ts)
            for i, ts in appended.items()
            if i in verdicts and ts - first_ms >= warmup_ms
        ]
        self.report["latency_p50_ms"] = percentile(samples, 0.50)
        self.report["latency_p99_ms"] = percentile(samples, 0.99)
        self.report["latency_p999_ms"] = percentile(samples, 0.999)
        self.report["latency"] = {
            "target_rate_per_s": round(target),
            "load_share_of_gate_max": round(target / self.state.gate_rate, 3)
            if self.state.gate_rate
            else None,
            "offered_rate_per_s": round(count / offered_s),
            "producer_max_behind_s": round(late_max, 3),
            "intents": count,
            "samples": len(samples),
            "warmup_s_excluded": self.sizes.latency_warmup_seconds,
            "max_ms": max(samples, default=0.0),
            "mean_ms": round(sum(samples) / len(samples), 2) if samples else 0.0,
            "worker_histogram": histogram_delta(histogram_before, histogram_after),
        }
        self.say(
            f"latency at {target:,.0f}/s: p50 {self.report['latency_p50_ms']:.0f} ms, p99 "
            f"{self.report['latency_p99_ms']:.0f} ms, p99.9 {self.report['latency_p999_ms']:.0f} ms"
        )

    def _collect_verdicts(
        self, start: dict[int, int], wanted: set[str], timeout: float
    ) -> dict[str, int]:
        """Broker timestamps of the verdicts whose keys are `wanted`, read from `start`."""
        from confluent_kafka import TopicPartition

        found: dict[str, int] = {}
        consumer = _consumer(self.bootstrap)
        try:
            topic = self.topic(topics.VERDICTS)
            consumer.assign([TopicPartition(topic, p, off) for p, off in start.items()])
            deadline = time.monotonic() + timeout
            while len(found) < len(wanted):
                if time.monotonic() > deadline:
                    missing = len(wanted) - len(found)
                    raise BenchError(f"{missing} verdicts missing after {timeout:g}s")
                for message in consumer.consume(5000, 0.5):
                    if message.error():
                        continue
                    key = (message.key() or b"").decode()
                    if key in wanted:
                        found[key] = message.timestamp()[1]
        finally:
            consumer.close()
        return found

    def _latency_histogram(self) -> dict[float, float]:
        """Cumulative bucket counts of the worker's decision latency histogram, and (keys -1 and
        -2) the sum and count of its read-your-opt-outs hold histogram."""
        buckets: dict[float, float] = {}
        if self.worker is None:
            return buckets
        try:
            text = self.worker.scrape()
        except OSError:
            return buckets
        for line in text.splitlines():
            if line.startswith("consentgate_decision_latency_seconds_bucket{"):
                bound = line.split('le="', 1)[1].split('"', 1)[0]
                buckets[math.inf if bound == "+Inf" else float(bound)] = float(line.split()[-1])
            elif line.startswith("consentgate_ordering_hold_seconds_sum "):
                buckets[-1.0] = float(line.split()[-1])
            elif line.startswith("consentgate_ordering_hold_seconds_count "):
                buckets[-2.0] = float(line.split()[-1])
        return buckets

    # ---------------------------------------------------------------- opt-out to enforcement

    def _optout_enforcement(self) -> None:
        from confluent_kafka import TopicPartition

        from connectors.producer import GateProducer
        from streams.policy.engine import DENY

        seen: set[str] = set()
        chosen: list[dict[str, Any]] = []
        for intent_id in self.state.allowed_promotional:
            original = self.state.intents_by_id.get(intent_id)
            if original is None or original["address"] in seen:
                continue
            seen.add(original["address"])
            chosen.append(original)
            if len(chosen) >= self.sizes.optout_samples:
                break
        if not chosen:
            raise BenchError("no allowed promotional intent to take recipients from")
        producer = GateProducer(
            self.bootstrap, self.codec, topic_prefix=self.prefix, **{"linger.ms": 0}
        )
        consumer = _consumer(self.bootstrap, **{"fetch.wait.max.ms": 5})
        topic = self.topic(topics.VERDICTS)
        start = end_offsets(consumer, topic)
        consumer.assign([TopicPartition(topic, p, off) for p, off in start.items()])
        consumer.consume(100, 0.5)  # let the reader's fetchers start before the first sample
        times_ms: list[float] = []
        outcomes: Counter[str] = Counter()
        clock = self.state.clock
        with self.phase(f"opt-out to enforcement: {len(chosen)} samples"):
            for n, original in enumerate(chosen):
                method = (
                    "sms_keyword"
                    if original["channel"] in {"sms", "mms", "whatsapp"}
                    else "unsubscribe_link"
                )
                optout = {
                    "type": "optout",
                    "id": f"bench-optout-{n}",
                    "at": clock.tick(),
                    "channel": original["channel"],
                    "address": original["address"],
                    "jurisdiction": original["jurisdiction"],
                    "party": None,
                    "method": method,
                }
                intent = dict(original, id=f"bench-after-optout-{n}", at=clock.tick())
                spec, key, value = producer.encode(intent)
                producer.publish(optout, wait=True)
                acked = time.perf_counter()
                producer.publish_encoded(spec, key, value, wait=False)
                verdict = self._await_verdict(consumer, intent["id"], timeout=60)
                times_ms.append((time.perf_counter() - acked) * 1000)
                outcomes[f"{verdict['decision']}:{verdict['reason']}"] += 1
            producer.flush()
        consumer.close()
        denied = sum(v for k, v in outcomes.items() if k.startswith(f"{DENY}:"))
        self.report["optout_enforcement_p50_ms"] = round(percentile(times_ms, 0.50), 2)
        self.report["optout_enforcement_p99_ms"] = round(percentile(times_ms, 0.99), 2)
        self.report["optout_enforcement"] = {
            "samples": len(times_ms),
            "denied": denied,
            "outcomes": dict(outcomes),
            "max_ms": round(max(times_ms, default=0.0), 2),
            "mean_ms": round(sum(times_ms) / len(times_ms), 2) if times_ms else 0.0,
        }
        self.say(
            f"opt-out to enforcement: p50 {self.report['optout_enforcement_p50_ms']:.1f} ms, "
            f"p99 {self.report['optout_enforcement_p99_ms']:.1f} ms; "
            f"{denied}/{len(times_ms)} denied"
        )

    def _await_verdict(self, consumer: Any, intent_id: str, timeout: float) -> dict[str, Any]:
        wanted = intent_id.encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.1)
            if message is None or message.error():
                continue
            if message.key() == wanted:
                decoded: dict[str, Any] = self.codec.decode(topics.VERDICTS, message.value())
                return decoded
        raise BenchError(f"no verdict for {intent_id} within {timeout:g}s")


def histogram_delta(before: dict[float, float], after: dict[float, float]) -> dict[str, Any]:
    """p50 and p99 upper bucket bounds of what the worker's latency histogram saw in between,
    and the mean read-your-opt-outs hold."""
    holds = after.get(-2.0, 0.0) - before.get(-2.0, 0.0)
    hold_s = after.get(-1.0, 0.0) - before.get(-1.0, 0.0)
    bounds = sorted(b for b in after if b >= 0)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    found: dict[str, Any] = {"observations": int(total)}
    for name, q in (("p50_le_ms", 0.5), ("p99_le_ms", 0.99), ("p999_le_ms", 0.999)):
        bound = None
        for b, c in zip(bounds, counts, strict=True):
            if total and c >= q * total:
                bound = b
                break
        found[name] = None if bound is None or math.isinf(bound) else bound * 1000
    found["hold_mean_ms"] = round(hold_s / holds * 1000, 2) if holds else None
    return found


def changelog_replay_seconds(log_path: Path, offset: int) -> float | None:
    """From faust's "Restoring state from changelog topics" to "Recovery complete", in the log
    written after `offset`; None when the worker had nothing to replay."""
    try:
        text = log_path.read_bytes()[offset:].decode(errors="replace")
    except OSError:
        return None
    began = ended = None
    for line in text.splitlines():
        match = FAUST_LOG_TIME.match(line)
        if match is None:
            continue
        at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if began is None and "Restoring state from changelog topics" in line:
            began = at
        elif began is not None and "Recovery complete" in line:
            ended = at
            break
    if began is None or ended is None:
        return None
    return round(ended - began, 2)


DEFINITIONS = {
    "gate_verdicts_per_s": "(verdicts - 1) / (last - first verdict broker timestamp), the worker "
    "draining the pre-filled intents after a restart on its data directory, for at most "
    "drain_seconds (verdicts topic with LogAppendTime)",
    "baseline_per_s": "the same, for a confluent-kafka consume / WireCodec.decode / "
    "WireCodec.encode(verdict-shaped record) / produce loop in one child process, same intents",
    "ratio": "gate_verdicts_per_s / baseline_per_s",
    "latency_*_ms": "verdict broker append time - intent broker append time (both "
    "LogAppendTime; 1 ms resolution), intents produced at a fixed rate of "
    "latency.load_share_of_gate_max x gate_verdicts_per_s, the first "
    "latency.warmup_s_excluded seconds left out",
    "optout_enforcement_*_ms": "opt-out acknowledged -> deny verdict received by a consumer in "
    "the bench process, for a promotional intent produced right after the ack",
    "cold_recovery_s": "worker spawned on an empty data directory -> faust 'Ready' (table "
    "recovered from the changelog, agents running); includes process start-up",
    "warm_restart_s": "worker spawned on its kept data directory -> faust 'Ready'",
    "peak_rss_mb": "largest VmHWM of the worker processes of the run",
}


def render_table(report: dict[str, Any]) -> str:
    rows = [
        ("gate verdicts/s (sustained)", report.get("gate_verdicts_per_s"), "gate_verdicts_per_s"),
        ("baseline verdicts/s", report.get("baseline_per_s"), None),
        ("ratio gate / baseline", report.get("ratio"), "ratio"),
        ("latency p50 (ms)", report.get("latency_p50_ms"), "latency_p50_ms"),
        ("latency p99 (ms)", report.get("latency_p99_ms"), "latency_p99_ms"),
        ("latency p99.9 (ms)", report.get("latency_p999_ms"), "latency_p999_ms"),
        ("opt-out to enforcement p50 (ms)", report.get("optout_enforcement_p50_ms"), None),
        (
            "opt-out to enforcement p99 (ms)",
            report.get("optout_enforcement_p99_ms"),
            "optout_enforcement_p99_ms",
        ),
        ("cold recovery (s)", report.get("cold_recovery_s"), "cold_recovery_s"),
        ("warm restart (s)", report.get("warm_restart_s"), "warm_restart_s"),
        ("peak worker RSS (MiB)", report.get("peak_rss_mb"), "peak_rss_mb"),
    ]
    lines = [f"{'metric':<34} {'value':>12}  target", "-" * 60]
    for label, value, target in rows:
        shown = (
            f"{value:,.3f}"
            if isinstance(value, float) and value < 10
            else (f"{value:,.0f}" if isinstance(value, int | float) else str(value))
        )
        lines.append(f"{label:<34} {shown:>12}  {TARGETS.get(target or '', '')}")
    latency = report.get("latency", {})
    workload = report.get("workload", {})
    machine_info = report.get("machine", {})
    found = report.get("versions", {})
    run_info = report.get("run", {})
    lines += [
        "",
        f"latency at {latency.get('target_rate_per_s')} intents/s "
        f"({latency.get('load_share_of_gate_max')} of the gate's max), "
        f"{latency.get('samples')} samples",
        f"state: {workload.get('consent_records')} consent records over "
        f"{workload.get('recipients')} recipients; {workload.get('intents')} intents",
        f"machine: {machine_info.get('cpus')} cpus ({machine_info.get('cpu_model')}), "
        f"{machine_info.get('memory_gib')} GiB; load {machine_info.get('loadavg_at_start')}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in found.items()),
        f"run {run_info.get('id')} ({run_info.get('mode')}): {run_info.get('duration_s')} s",
    ]
    return "\n".join(lines)
