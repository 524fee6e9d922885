"""`create_app(settings)`: the Faust application with its topics, table and agents wired.

Agents are thin: they read raw bytes (so a record the codec cannot read becomes a dead letter,
never a silent skip), hand each record to `Gate`, and advance the read-your-opt-outs positions.
They take events in batches without faust's automatic acknowledgement: a batch's events are
acknowledged once its outputs and table changes are durable (`outputs.py`, `statestore.py`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust.types import TP
from prometheus_client import ProcessCollector

from streams import __version__, topics
from streams.kafka_config import aiokafka_security_kwargs, output_producer_config
from streams.metrics import GateMetrics
from streams.runtime import faust_compat, ledger
from streams.runtime.acks import AckOrder
from streams.runtime.agreements import AgreementsView
from streams.runtime.complaints import add_complaint_agents
from streams.runtime.deliveries import add_delivery_agents
from streams.runtime.erasure import add_erasure_agent
from streams.runtime.faust_monitor import FaustCollector, GateMonitor
from streams.runtime.gate import Gate, Inbound
from streams.runtime.health import install_health
from streams.runtime.holes import HoleRepair
from streams.runtime.ordering import AppliedPositions, HoldResult, OrderingHold, TopicPartition
from streams.runtime.outputs import KafkaOutputs, Outputs
from streams.runtime.statestore import WriteBehindStore
from streams.runtime.store_check import resolve_data_dir
from streams.serdes import RegistryUnavailableError, WireCodec
from streams.settings import Settings

log = logging.getLogger(__name__)

TABLE_NAME = "recipients"
PRODUCER_BUFFER_MESSAGES = 5_000
# Events per batch, and how long a batch waits for more after its first event unless a full
# batch is already queued or the stream was idle (faust_compat.take_ready). Larger batches
# spread the per-batch work (the read-your-opt-outs offset lookup, the write batch, the flush)
# over more records: with no wait, batches at live rates of a few thousand a second held a
# handful of intents and the worker fell behind. After a batch, the linger also lets the fetcher
# bring what arrived while the event loop was busy: at 2 ms the newest intent of a batch was
# older when taken than at 5 ms (docs/performance.md has the measurements).
BATCH_SIZE = {"intent": 500, "consent": 1000, "optout": 1000, "partner": 200}
TAKE_LINGER_S = 0.005
# Records an agent handles between two looks at the outputs' delivery reports (a few ms).
SERVE_REPORTS_EVERY = 8
REVOKE_FLUSH_TIMEOUT_S = 30.0
# How often to look for a partition whose commit waits at an offset nobody acknowledged.
HOLE_CHECK_S = 5.0
HOLE_READS = 3  # reads of one undecided offset before it is left to a restart
HOLE_PATIENCE_S = 30.0  # for a record read again to come back before it is read once more
HOLE_CONFIRM_S = 10.0  # unacknowledged at the head this long: a hole, not a record in flight
HOLD_REPORT_EVERY_S = 10.0
KNOW_COMMITTED_TRIES = 5
# Waits for the schema registry: doubling from the first to the longest.
REGISTRY_RETRY_FIRST_S = 0.2
REGISTRY_RETRY_MAX_S = 5.0
SPEC_OF_AGENT = {
    "consent": topics.CONSENT,
    "optout": topics.OPTOUT,
    "partner": topics.PARTNER,
    "intent": topics.INTENTS,
}


def stop_worker(reason: str) -> None:
    """Stop this worker as SIGTERM would: what was not acknowledged is processed again."""
    log.critical("stopping the worker: %s", reason)
    os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class WorkerApp:
    """The pieces a worker, a test or the benchmark may want to reach."""

    app: faust.App
    gate: Gate
    positions: AppliedPositions
    ordering: OrderingHold
    agreements: AgreementsView
    metrics: GateMetrics
    settings: Settings
    names: Mapping[str, str]
    outputs: Outputs
    store: WriteBehindStore
    acks: AckOrder
    agents: dict[str, Any] = field(default_factory=dict)
    table: Any = None
    stores: list[WriteBehindStore] = field(default_factory=list)  # every table's, `store` first

    def persist_offsets(self) -> None:
        """Record every table's delivered changelog offsets now (statestore.py): before a
        shutdown or a revocation, and on a timer for a worker gone quiet."""
        for store in self.stores:
            store.persist_offsets(force=True)

    def acknowledge(
        self, events: list[Any], stores: tuple[WriteBehindStore, ...] = ()
    ) -> Callable[[], None]:
        """The callback for when a batch's outputs and state are durable: save the changelog
        offsets of `stores` (default: the recipient table's), then acknowledge the inputs in
        the order they were taken (`acks.py`)."""

        def done() -> None:
            for store in stores or (self.store,):
                store.persist_offsets()
            self.acks.completed(events)

        return done


def inbound(message: Any) -> Inbound:
    return Inbound(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp=message.timestamp,
        headers=message.headers,
    )


def report_lag(app: faust.App, metrics: GateMetrics, base_of: Mapping[str, str]) -> None:
    """Consumer lag per input topic: high watermark minus committed offset, owned partitions."""
    consumer: Any = app.consumer
    lag: dict[str, int] = dict.fromkeys(base_of.values(), 0)
    for tp in consumer.assignment():
        base = base_of.get(tp.topic)
        if base is None:
            continue
        high = consumer.highwater(tp)
        committed = faust_compat.committed_offset(consumer, tp) or 0
        if high is not None and high > committed:
            lag[base] += high - committed
    for base, value in lag.items():
        metrics.consumer_lag.labels(base).set(value)


def table_size(table: Any) -> int:
    """Keys in the table's active partitions: RocksDB's estimate where there is one (faust's
    `len()` of a RocksDB table visits every key in Python, about 60 ms per 190,000 keys, blocking
    the event loop on every gauge refresh)."""
    estimate = faust_compat.rocksdb_key_estimate(table)
    return len(table) if estimate is None else estimate


def serve_metrics(app: faust.App, metrics: GateMetrics) -> None:
    """`/metrics` on the worker's web port: the bundle, the process and faust's counts."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    @app.page("/metrics")
    async def metrics_page(view: Any, request: Any) -> Any:
        body = generate_latest(metrics.registry)
        return view.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def batch_agent(
    name: str,
    size: int,
    spec: topics.TopicSpec,
    handle: Callable[[list[Any]], Awaitable[None] | None],
    *,
    codec: WireCodec,
    metrics: GateMetrics,
    discard: Callable[[], None],
    acks: AckOrder,
    topic_specs: Mapping[str, topics.TopicSpec] | None = None,
    linger_s: float = TAKE_LINGER_S,
) -> Callable[[Any], Awaitable[None]]:
    """An agent body that takes events in batches and acknowledges them only once the batch's
    outputs are durable (`faust_compat.take_ready` hands over what is ready, unacknowledged:
    faust commits only acknowledged offsets). Every agent that writes state uses it (here and in
    `complaints.py`).

    While the schema registry cannot be asked, the batch waits (without blocking the event loop)
    and is handled again once it answers: the agent takes nothing new meanwhile, so its
    partitions pause, and intents that need their state are denied STATE_NOT_CURRENT when the
    read-your-opt-outs wait expires. `discard` drops the batch's unflushed table writes before a
    retry. Anything else unexpected stops the worker rather than acknowledge what was not done.
    Each batch is registered with `acks` as taken, so its acknowledgement waits for the batches
    taken before it (`WorkerApp.acknowledge` releases it). An agent reading several topics
    names each topic's spec in `topic_specs` (full topic name -> spec), so every value's
    schema is looked up in its own topic's subject. `linger_s`: how long a batch waits for
    more after its first event (`faust_compat.take_ready`)."""

    def preload(events: list[Any]) -> None:
        if topic_specs is None:
            codec.preload(spec, (event.message.value for event in events))
            return
        by_topic: dict[str, list[Any]] = {}
        for event in events:
            by_topic.setdefault(event.message.topic, []).append(event.message.value)
        for topic, values in by_topic.items():
            codec.preload(topic_specs.get(topic, spec), values)

    async def run_batches(stream: Any) -> None:
        async for events in faust_compat.take_ready(stream, size, linger_s):
            acks.taken(name, events)
            delay = REGISTRY_RETRY_FIRST_S
            while True:
                try:
                    preload(events)
                    done = handle(events)
                    if done is not None:
                        await done
                    break
                except RegistryUnavailableError as exc:
                    discard()
                    metrics.registry_waits.labels(spec.base).inc()
                    log.warning("%s: schema registry unavailable (%s); waiting %.1fs",
                                name, exc, delay)  # fmt: skip
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, REGISTRY_RETRY_MAX_S)
                except Exception:
                    discard()
                    log.exception("the %s agent failed; stopping the worker", name)
                    stop_worker(f"{name} agent failed")
                    raise

    return run_batches


def serving_reports(events: list[Any], outputs: Outputs) -> Iterator[Any]:
    """The events, with the outputs' delivery reports served after every
    `SERVE_REPORTS_EVERY` of them (`Outputs.serve_reports`)."""
    serve = outputs.serve_reports
    for n, event in enumerate(events, 1):
        yield event
        if n % SERVE_REPORTS_EVERY == 0:
            serve()


def faust_settings(settings: Settings, partitions: int) -> dict[str, Any]:
    brokers = [f"kafka://{host}" for host in settings.kafka_bootstrap_servers.split(",")]
    # faust's clients take TLS and SASL as one credentials object; the same settings configure
    # the librdkafka and plain aiokafka clients (streams/kafka_config.py).
    security = aiokafka_security_kwargs(settings)
    credentials: Any = None
    if "sasl_mechanism" in security:
        credentials = faust.SASLCredentials(
            username=security["sasl_plain_username"],
            password=security["sasl_plain_password"],
            mechanism=security["sasl_mechanism"],
            ssl_context=security.get("ssl_context"),
        )
    elif "ssl_context" in security:
        credentials = faust.SSLCredentials(security["ssl_context"])
    session_s = settings.session_timeout.total_seconds()
    return {
        # Every faust setting comes from here: faust would otherwise let environment variables
        # (WEB_BIND, BROKER_SESSION_TIMEOUT, ...) override what is passed, a second settings
        # source beside consentgate's, one that could bind the web server beyond loopback.
        "env": {},
        "broker": brokers,
        "broker_credentials": credentials,
        "broker_session_timeout": session_s,
        "broker_heartbeat_interval": min(3.0, session_s / 3),
        "store": settings.store,
        "datadir": str(resolve_data_dir(settings)),
        "topic_partitions": partitions,
        "topic_replication_factor": settings.replication_factor,
        "processing_guarantee": "at_least_once",
        "producer_acks": -1,
        "consumer_auto_offset_reset": "earliest",
        "stream_buffer_maxsize": 16384,
        "broker_commit_every": 10_000,
        "broker_commit_interval": 1.0,
        "table_standby_replicas": settings.standby_replicas,
        "web_enabled": True,
        "web_bind": settings.web_bind,
        "web_port": settings.web_port,
        # Consent state must never be readable over HTTP.
        "web_tables_enabled": False,
        "web_router_enabled": False,
        "web_stats_enabled": False,
        "web_graph_enabled": False,
        "autodiscover": False,
        # faust's own figures are counted cheaply and exported at scrape time (faust_monitor.py).
        "Monitor": GateMonitor,
        "worker_redirect_stdouts": False,
    }


def create_app(
    settings: Settings,
    *,
    partitions: int,
    partner_partitions: int,
    codec: WireCodec,
    metrics: GateMetrics | None = None,
    with_web_metrics: bool = True,
    outputs: Outputs | None = None,
) -> WorkerApp:
    metrics = metrics or GateMetrics()
    metrics.worker_info.labels(__version__, settings.policy.policy_version).set(1)
    metrics.initialise()
    prefix = settings.topic_prefix
    names = {spec.base: spec.name(prefix) for spec in topics.ALL}
    app = faust.App(settings.app_id, **faust_settings(settings, partitions))
    # faust stalls every stream once 100 sends wait in its buffer; a batch of intents alone
    # queues several hundred (verdict, changelog, violation), so allow a batch's worth.
    faust_compat.allow_pending_sends(app, PRODUCER_BUFFER_MESSAGES)
    faust_compat.tune_fetch(
        round(settings.fetch_wait.total_seconds() * 1000), settings.fetch_min_bytes
    )
    if with_web_metrics:
        ProcessCollector(registry=metrics.registry)
        metrics.registry.register(FaustCollector(cast(GateMonitor, app.monitor)))
        serve_metrics(app, metrics)
        install_health(app)

    def raw_topic(spec: topics.TopicSpec) -> Any:
        return app.topic(
            names[spec.base],
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions if spec.recipient_keyed else None,
            internal=False,
        )

    consent_topic = raw_topic(topics.CONSENT)
    optout_topic = raw_topic(topics.OPTOUT)
    partner_topic = raw_topic(topics.PARTNER)
    intent_topic = raw_topic(topics.INTENTS)
    if outputs is None:
        outputs = KafkaOutputs(
            output_producer_config(settings), names, metrics, on_fatal=stop_worker
        )

    table = app.Table(
        TABLE_NAME,
        default=None,
        key_type=bytes,  # bytes in, bytes out: the "raw" codec, our own encoding
        value_type=bytes,
        partitions=partitions,
    )
    store = WriteBehindStore(table, outputs)
    faust_compat.streams_acknowledge_through_the_consumer()  # acks.py: no skipped message acked
    acks = AckOrder(
        lambda: faust_compat.consumer_generation(app),
        faust_compat.fetched_generation,
        on_stale=metrics.stale_acks.inc,
    )
    # The offsets whose acknowledgement the gate released, contiguous from the committed offset,
    # per partition of the topics it commits: every commit's ceiling (commit_no_hole). faust's
    # own bookkeeping decides the commit; this bounds it, whatever path that bookkeeping took.
    released = AppliedPositions(
        committed=lambda tp: faust_compat.committed_offset(app.consumer, tp)
    )

    def counted(message: Any) -> None:
        if message.topic in committed_topics:
            released.advance(message.tp, message.offset)

    acks.on_counted = counted
    positions = AppliedPositions(
        committed=lambda tp: faust_compat.committed_offsets(app.consumer).get(TP(*tp))
    )
    agreements = AgreementsView(
        settings, names[topics.PARTNER.base], partner_partitions, codec, positions
    )
    gate = Gate(
        codec=codec,
        store=store,
        agreements=agreements,
        outputs=outputs,
        metrics=metrics,
        config=settings.policy,
        names=names,
        pseudonyms=ledger.pseudonyms_for(settings),
    )

    async def seed_positions(tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Committed offsets were applied before they were committed: start from there.

        The hold has already looked in faust's map (`AppliedPositions.reseed`); faust learns it
        in the seek that follows an assignment, but resumes the partitions before it, so the
        first batch of intents can come before faust knows. Then ask the broker, and fall back
        to the beginning only for partitions the group never committed (starting a quiet
        partition from the beginning would hold every intent until it times out)."""
        partner = names[topics.PARTNER.base]  # the agreements view keeps its own positions
        return await agreements.start_offsets(
            settings.app_id, [tp for tp in tps if tp[0] != partner]
        )

    ordering = OrderingHold(
        positions,
        agreements.end_offsets,
        max_wait_s=settings.ordering_max_wait.total_seconds(),
        seed_positions=seed_positions,
    )
    consent_name, optout_name = names[topics.CONSENT.base], names[topics.OPTOUT.base]
    complaints_name = names[topics.COMPLAINTS.base]
    erasures_name = names[topics.ERASURES.base]
    ga = WorkerApp(
        app=app,
        gate=gate,
        positions=positions,
        ordering=ordering,
        agreements=agreements,
        metrics=metrics,
        settings=settings,
        names=names,
        outputs=outputs,
        store=store,
        acks=acks,
        table=table,
        stores=[store],
    )
    acknowledge = ga.acknowledge

    def in_batches(name: str, handle: Callable[[list[Any]], Awaitable[None]]) -> Callable:
        return batch_agent(
            name, BATCH_SIZE[name], SPEC_OF_AGENT[name], handle,
            codec=codec, metrics=metrics, discard=store.discard, acks=acks,
        )  # fmt: skip

    def state_agent(spec: topics.TopicSpec, topic: Any, name: str) -> Any:
        """Consent and opt-out agents: apply each record, then advance its partition's position."""

        async def apply_records(events: list[Any]) -> None:
            with ga.outputs.batch(acknowledge(events)):
                for event in serving_reports(events, ga.outputs):
                    ga.gate.apply_state_record(spec, inbound(event.message))
                store.flush()
            for event in events:
                message = event.message
                positions.advance((message.topic, message.partition), message.offset)

        return app.agent(topic, name=name)(in_batches(name, apply_records))

    consent_agent = state_agent(topics.CONSENT, consent_topic, "consent")
    optout_agent = state_agent(topics.OPTOUT, optout_topic, "optout")

    async def check_partners(events: list[Any]) -> None:
        with ga.outputs.batch(acknowledge(events)):
            for event in events:
                ga.gate.check_partner(inbound(event.message))

    partner_agent = app.agent(partner_topic, name="partner")(in_batches("partner", check_partners))

    async def decide_intents(events: list[Any]) -> None:
        metrics.intents_received.inc(len(events))
        partitions_seen = sorted({event.message.partition for event in events})
        needed = [(consent_name, p) for p in partitions_seen]
        needed += [(optout_name, p) for p in partitions_seen]
        needed += [(complaints_name, p) for p in partitions_seen]  # a complaint is an opt-out
        needed += [(erasures_name, p) for p in partitions_seen]  # an erasure too (§6)
        needed += ga.agreements.partitions()
        hold = await ga.ordering.hold(needed)
        if not hold.caught_up:
            for tp, applied, _ in hold.behind:
                if applied >= 0 and tp[0] in committed_topics:
                    stuck_state[TP(*tp)] = applied  # read again from there if it stays (holes.py)
            report_hold_expired(hold)
        with ga.outputs.batch(acknowledge(events)):  # from here to the flush: no await
            for event in serving_reports(events, ga.outputs):
                ga.gate.decide_intent(inbound(event.message), hold)
            store.flush()

    hold_reported = [0.0]
    # State partitions a hold found behind, at the first offset not applied: a partition whose
    # records never arrive (skipped with nothing after them, or left out of the fetch) is read
    # again from there like any other hole.
    stuck_state: dict[Any, int] = {}

    def report_hold_expired(hold: HoldResult) -> None:
        """Say which state partitions held a batch past the wait (at most every 10 s): the
        batch is denied STATE_NOT_CURRENT, and the partitions name what is behind."""
        now = time.monotonic()
        if now - hold_reported[0] < HOLD_REPORT_EVERY_S:
            return
        hold_reported[0] = now
        shown = ", ".join(f"{t}[{p}] at {at} of {need}" for (t, p), at, need in hold.behind[:4])
        log.warning(
            "intents denied STATE_NOT_CURRENT: state not applied within %.1f s (%s%s)",
            hold.waited_s, shown, ", ..." if len(hold.behind) > 4 else "",
        )  # fmt: skip

    intent_agent = app.agent(intent_topic, name="intent")(in_batches("intent", decide_intents))

    clamp_reported = [0.0]
    clamped_at: dict[Any, int] = {}  # partition -> the offset its commit was held at
    base_of_topic = {name: base for base, name in names.items()}

    def clamped_commit(tp: Any, wanted: int, ceiling: int) -> None:
        """faust wanted to commit past an offset the gate never released (`released`): the
        record there is read again like any hole, and counted when it is released."""
        metrics.commits_clamped.labels(base_of_topic.get(tp.topic, "other")).inc()
        faust_compat.uncount(app.consumer, tp, ceiling)
        clamped_at[tp] = ceiling
        now = time.monotonic()
        if now - clamp_reported[0] >= HOLD_REPORT_EVERY_S:
            clamp_reported[0] = now
            log.warning(
                "%s[%d]: faust would commit offset %d, past offset %d that the gate has not "
                "released; committing up to %d", tp.topic, tp.partition, wanted, ceiling, ceiling,
            )  # fmt: skip

    def guard_commits() -> None:
        """Only the batches' own releases acknowledge inputs, only compacted topics may skip
        offsets, and no commit passes an offset the gate did not release (acks.py,
        faust_compat.gaps_only_in, commit_no_hole). Installed when faust creates the consumer:
        faust starts app tasks only once table recovery is done, but its fetcher delivers
        stream records during recovery, and one worker restarted after kill -9 recorded a
        skipped range as a gap and acknowledged unguarded before a task could install these."""
        faust_compat.acknowledge_only_when(app, lambda: acks.releasing, acks.refused)
        compacted = {names[spec.base] for spec in topics.ALL if spec.compacted}

        def refused_gap(tp: Any, first: int, following: int) -> None:
            log.warning(
                "%s[%d]: the fetch jumped from offset %d to %d; the offsets between will be "
                "read again", tp.topic, tp.partition, first - 1, following,
            )  # fmt: skip

        faust_compat.gaps_only_in(app, compacted, refused_gap)
        faust_compat.commit_no_hole(app, compacted, released.at_least, clamped_commit)

    faust_compat.on_consumer_created(app, guard_commits)

    repair: HoleRepair[Any] = HoleRepair(
        confirm_s=HOLE_CONFIRM_S, patience_s=HOLE_PATIENCE_S, max_reads=HOLE_READS
    )
    acks.on_followed = repair.followed

    @app.timer(interval=HOLE_CHECK_S)
    async def read_holes_again() -> None:
        """A partition whose commit waits at an offset nobody acknowledged is read again from
        there (holes.py says when): the fetch skipped that message (acks.py,
        faust_compat.gaps_only_in). In-order release makes every other wait transient:
        acknowledged offsets are a prefix of those taken."""
        if getattr(app, "rebalancing", False):
            repair.rebalancing()
            return
        heads = faust_compat.unacknowledged_heads(app.consumer)
        gate_heads = {tp: offset for tp, offset in heads.items() if tp.topic in committed_topics}
        assigned = app.consumer.assignment()
        for tp, applied in (*stuck_state.items(), *clamped_at.items()):
            if tp in assigned:
                gate_heads.setdefault(tp, applied)
        stuck_state.clear()
        clamped_at.clear()
        found = repair.check(gate_heads, time.monotonic())
        for tp, offset in found.given_up:
            log.error(
                "%s[%d]: offset %d is still undecided after %d reads; the commit waits there "
                "(lag grows) until the worker restarts", tp.topic, tp.partition, offset,
                HOLE_READS,
            )  # fmt: skip
        for tp, offset in found.decided:
            log.info("%s[%d]: offset %d, read again, is decided", tp.topic, tp.partition, offset)
        acks.watched = {(tp.topic, tp.partition): o for tp, o in repair.watching().items()}
        for tp, offset in found.read_again:
            log.warning(
                "%s[%d]: offset %d was skipped or read and never decided; reading the "
                "partition again from it", tp.topic, tp.partition, offset,
            )  # fmt: skip
            try:
                if await faust_compat.read_again_from(app.consumer, tp, offset):
                    metrics.holes_read_again.inc()
            except Exception:  # a failed repair must not stop the worker: the next check
                log.exception("could not read %s[%d] again", tp.topic, tp.partition)

    @app.task
    async def drain_directly() -> None:
        """faust's per-message `wait_first` only where a callback could wait (faust_compat)."""
        faust_compat.drain_without_wait_first(app)

    @app.task
    async def serve_outputs() -> None:
        if isinstance(outputs, KafkaOutputs):
            await outputs.serve()

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def stop_outputs(app: Any, **kwargs: Any) -> None:
        if isinstance(outputs, KafkaOutputs):
            left = outputs.stop()
            if left:
                log.warning("%d output records were not delivered before shutdown", left)
        ga.persist_offsets()

    @app.task
    async def follow_agreements() -> None:
        await ga.agreements.run()

    # The group's own input topics that are not compacted: committed only over acknowledged
    # offsets, read again from a hole (changelog partitions are faust's, never here).
    committed_topics = {names[spec.base] for spec in topics.ALL if not spec.compacted}
    learning: set[asyncio.Future[None]] = set()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def know_committed_offsets(app: Any, assigned: set[Any], **kwargs: Any) -> None:
        """faust learns the group's committed offsets in its seek after recovery, and none for
        a partition the group never committed; until it knows one, `commit_no_hole` commits
        nothing there. Ask the broker (the beginning where the group never committed), in a
        task so that the assignment does not wait for it."""
        ours = [tp for tp in assigned if tp.topic in committed_topics]
        # Every partition is read again from its committed offset: start the records there.
        released.forget(ours)
        faust_compat.forget_bookkeeping(app.consumer, ours)
        tps = sorted((tp.topic, tp.partition) for tp in ours)
        if tps:
            task = asyncio.ensure_future(learn_committed(tps))
            learning.add(task)
            task.add_done_callback(learning.discard)

    async def learn_committed(tps: list[TopicPartition]) -> None:
        for attempt in range(KNOW_COMMITTED_TRIES):
            try:
                found = await agreements.start_offsets(settings.app_id, tps)
                faust_compat.know_committed(app.consumer, found)
                return
            except Exception:  # the broker is busy or away: try again, commits wait meanwhile
                log.warning("could not read the group's committed offsets (try %d)", attempt + 1)
                await asyncio.sleep(1.0 + attempt)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_revoked(app: Any, revoked: set[Any], **kwargs: Any) -> None:
        """The next owner rebuilds from the changelog: deliver what is queued before it reads.
        The agreements view reads every partner partition on its own consumer, whatever the
        group assigns: its positions stay (forgotten, no record would bring them back, and
        every intent would wait for them and be denied STATE_NOT_CURRENT)."""
        partner = names[topics.PARTNER.base]
        positions.forget((tp.topic, tp.partition) for tp in revoked if tp.topic != partner)
        if isinstance(outputs, KafkaOutputs):
            outputs.flush(REVOKE_FLUSH_TIMEOUT_S)
        ga.persist_offsets()

    @app.timer(interval=5.0)
    async def refresh_gauges() -> None:
        ga.gate.refresh_gauges(lambda: table_size(table))
        ga.persist_offsets()
        report_lag(app, metrics, {names[spec.base]: spec.base for spec in topics.INPUTS})

    ga.agents.update(
        consent=consent_agent, optout=optout_agent, partner=partner_agent, intent=intent_agent
    )
    add_complaint_agents(ga)  # issue 15 §4: complaints, acks and the overdue check
    if settings.reconcile_deliveries:
        add_delivery_agents(ga)  # issue 15 §5: deliveries reconciled with the verdicts
    add_erasure_agent(ga)  # issue 15 §6: erasure requests
    return ga
