"""Delivery reconciliation on Kafka (issue 15 §5): what the delivery side reports it sent,
against the gate's own verdicts; SENT_WITHOUT_ALLOW and SENT_AFTER_DENY violations
(policy/deliveries.py decides, this module wires it).

`add_delivery_agents` (called once from `create_app`) adds the `delivery-reconciler` agent. It
reads `verdicts` and `deliveries`, both keyed by the intent id with Kafka's murmur2 partitioner
and created with CONSENTGATE_PARTITIONS partitions, so an intent's verdict and its delivery
reports meet in one partition of the `deliveries` table (key: intent id; value:
`policy.deliveries.encode_entry`, which holds pseudonyms, never an address). A delivery keyed
by anything but its `intent_id`, or on another partition than murmur2 gives (another
partitioner), is re-sent keyed by its intent id through the gate's producer (murmur2) and
counted in `consentgate_records_applied{topic="deliveries",kind="reroute"}`. Verdicts are the
gate's own output and are never re-sent; their outcome is read from the `consentgate-outcome`
header (`topics.OUTCOME_HEADER`, `outcome_in`), and the Avro value decoded only when that header
is missing or does not read (an older gate's verdict).

Rules (`Reconciliation`): a verdict with deliveries held judges them at once; a delivery with
its verdict known is judged at once; a delivery with no verdict waits until the verdict comes or
`CONSENTGATE_DELIVERY_WAIT_S` (default 5 min) passes, then it is SENT_WITHOUT_ALLOW. The wait
ends on either clock: verdict record time (the latest broker timestamp read from `verdicts` on
that partition has passed the report's timestamp by `wait`: its verdict, produced before the
message went out, would have been read), or wall time since the worker first held it. The
check runs after every batch (for the intents the batch touched that hold a delivery, and those
waiting) and every CHECK_INTERVAL_S.

Exactly-once-ish, as complaints.py: a violation (id `<intent id>:<rule>`, keyed by the intent
id, on `violations`) is sent first and its rule marked in the entry in the callback of Kafka's
acknowledgement, written to the changelog at once. A worker killed in between sends it again,
same id: never none.

Bound: an entry stays while anything about its intent is recent, and the retention sweep
(every SWEEP_INTERVAL_S, by the later of wall time and record time) deletes, with a changelog
tombstone, entries untouched for CONSENTGATE_DELIVERY_RETENTION_S (default 7 days) that have
nothing waiting. So the table holds about one small entry per verdict of the retention window.
An allow whose delivery matched is not deleted at once: a retried or re-sent report of the same
delivery would otherwise find no verdict and be filed SENT_WITHOUT_ALLOW. The sweep reads every
entry's fixed header only (no decoding), SWEEP_SLICE entries per step so that a table of millions
never stalls the event loop or is copied into memory; its first pass after a start also rebuilds
the index of waiting entries (until it has passed them, a report that was waiting before the
restart is judged up to one pass late, never lost).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from connectors.partitioning import partition_for
from streams import topics
from streams.metrics import GateMetrics
from streams.policy.deliveries import (
    Delivered,
    IntentOutcome,
    Reconciliation,
    classify,
    decode_entry,
    decode_outcome,
    encode_entry,
    header,
    violation,
)
from streams.policy.records import DeliveryRecord
from streams.runtime import faust_compat
from streams.runtime.gate import Inbound, received_at
from streams.runtime.health import not_ready_reason
from streams.runtime.statestore import WriteBehindStore
from streams.serdes import DecodeError, RegistryUnavailableError, SerdesError

if TYPE_CHECKING:
    from streams.runtime.app import WorkerApp

log = logging.getLogger(__name__)

TABLE_NAME = "deliveries"
CHECK_INTERVAL_S = 10.0
SWEEP_INTERVAL_S = 600.0  # from the start of one retention pass to the start of the next
# A pass reads SWEEP_SLICE entries per SWEEP_STEP_S: a few milliseconds of the event loop per
# step and no copy of the table in memory (benchmarks/bench_sweep.py), so one million entries
# take about 50 s.
SWEEP_SLICE = 10_000
SWEEP_STEP_S = 0.5
BATCH_SIZE = 500
# Verdicts and delivery reports wait up to this long for more before a batch is reconciled.
# Nothing here is urgent (a delivery waits minutes for its verdict), and each batch costs a
# flush, a check and a write batch per partition: at the intents' 5 ms a live worker handled
# the verdicts of every intent batch as a batch of their own.
LINGER_S = 0.05


class DeliveryReconciler:
    """The delivery reconciliation of one worker (module docstring)."""

    def __init__(
        self,
        ga: WorkerApp,
        table: Any,
        store: WriteBehindStore,
        *,
        ready: Callable[[], bool],
        wall_ms: Callable[[], int] | None = None,
    ) -> None:
        self.ga = ga
        self.table = table
        self.store = store
        self.ready = ready
        self.wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        self.metrics: GateMetrics = ga.metrics
        settings = ga.settings
        self.partitions = settings.partitions
        self.wait_ms = int(settings.delivery_wait.total_seconds() * 1000)
        self.retention_ms = int(settings.delivery_retention.total_seconds() * 1000)
        self.verdicts_name = ga.names[topics.VERDICTS.base]
        self.verdict_clock: dict[int, int] = {}  # partition -> latest verdict broker time (ms)
        self.record_clock_ms = 0  # latest broker time of either topic (the retention clock)
        self.waiting: dict[bytes, int] = {}  # intent id -> partition: deliveries without verdict
        self.touched: dict[bytes, int] = {}  # changed since the last check
        self.in_flight: set[tuple[bytes, str]] = set()
        self.indexed = False  # a first full pass has rebuilt the waiting index
        self._pass: tuple[faust_compat.ScanCursor, int, int] | None = None  # cursor, now, deleted
        self._next_pass_ms = 0  # wall time the next pass may start

    # ---------------------------------------------------------------- records

    def handle(self, msg: Inbound) -> None:
        ts_ms = int(msg.timestamp * 1000) if msg.timestamp and msg.timestamp > 0 else 0
        self.record_clock_ms = max(self.record_clock_ms, ts_ms)
        try:
            if msg.topic == self.verdicts_name:
                self.verdict_clock[msg.partition] = max(
                    self.verdict_clock.get(msg.partition, 0), ts_ms
                )
                self._verdict(msg, ts_ms)
            else:
                self._delivery(msg, ts_ms)
        except RegistryUnavailableError:
            raise  # the batch waits for the registry (app.batch_agent)
        except Exception as exc:  # a bug must not stop the partition: dead-letter and go on
            log.exception("unexpected error on %s[%d]@%d", msg.topic, msg.partition, msg.offset)
            spec = topics.VERDICTS if msg.topic == self.verdicts_name else topics.DELIVERIES
            self.metrics.processing_errors.labels(spec.base).inc()
            error_class = exc.error_class if isinstance(exc, SerdesError) else "internal_error"
            self.ga.gate._dead_letter(msg, error_class, f"{type(exc).__name__}: {exc}", None)

    def _verdict(self, msg: Inbound, ts_ms: int) -> None:
        outcome = outcome_in(msg)
        if outcome is None:  # an older gate's verdict, or a header that does not read
            try:
                decoded = self.ga.gate.codec.decode(topics.VERDICTS, msg.value, trusted=True)
                outcome = IntentOutcome.of(decoded)
            except DecodeError as exc:  # not the gate's: nothing to reconcile with
                log.warning("unreadable verdict %s[%d]@%d: %s", msg.topic, msg.partition,
                            msg.offset, exc)  # fmt: skip
                self.metrics.processing_errors.labels(topics.VERDICTS.base).inc()
                return
        key = outcome.intent_id.encode()
        current = self._entry(msg.partition, key) or Reconciliation(outcome.intent_id)
        entry = current.with_verdict(outcome, ts_ms)
        if entry is current:
            return
        if current.outcome is None:  # deliveries held until now are judged
            for result in entry.outcomes():
                self.metrics.deliveries_reconciled.labels(result).inc()
        self._put(msg.partition, key, entry)

    def _delivery(self, msg: Inbound, ts_ms: int) -> None:
        record = self._read(msg)
        if record is None:
            return
        key = record.intent_id.encode()
        if msg.key != key or msg.partition != partition_for(key, self.partitions):
            if msg.value is not None:
                self.ga.outputs.send(topics.DELIVERIES, key, msg.value)
            self.metrics.records_applied.labels(topics.DELIVERIES.base, "reroute", "rerouted").inc()
            return
        delivered = Delivered.of(
            record, self.ga.gate.pseudonyms, received_at=received_at(msg), noticed_ms=self.wall_ms()
        )
        current = self._entry(msg.partition, key) or Reconciliation(record.intent_id)
        entry = current.with_delivery(delivered, ts_ms)
        kept = entry.deliveries != current.deliveries
        outcome = "applied" if kept else "duplicate"
        self.metrics.records_applied.labels(topics.DELIVERIES.base, "delivery", outcome).inc()
        if kept and entry.outcome is not None:
            self.metrics.deliveries_reconciled.labels(classify(entry.outcome, delivered)).inc()
        if entry != current:
            self._put(msg.partition, key, entry)

    def _read(self, msg: Inbound) -> DeliveryRecord | None:
        record = self.ga.gate.read(
            topics.DELIVERIES, msg, DeliveryRecord.KIND, repaired="reconciled"
        )
        assert record is None or isinstance(record, DeliveryRecord)
        return record

    def _entry(self, partition: int, key: bytes) -> Reconciliation | None:
        data = self.store.get(partition, key)
        return None if data is None else decode_entry(data)[1]

    def _put(self, partition: int, key: bytes, entry: Reconciliation) -> None:
        self.store.put(partition, key, encode_entry(partition, entry))
        if entry.deliveries:  # only a delivery can owe a violation (Reconciliation.owed)
            self.touched[key] = partition

    # ---------------------------------------------------------------- violations

    def check(self) -> int:
        """Send the violations owed now, once each, for the intents touched since the last
        check and those waiting. Call inside an outputs batch, after the store's flush, with
        no await. Returns how many were sent."""
        if not self.ready():
            return 0
        keys, self.touched = {**self.waiting, **self.touched}, {}
        wall = self.wall_ms()
        policy_version = self.ga.settings.policy.policy_version
        first_party = self.ga.settings.policy.first_party
        count = 0
        for key, partition in keys.items():
            entry = self._entry(partition, key)
            if entry is None:
                self.waiting.pop(key, None)
                continue
            clock = self.verdict_clock.get(partition, 0)
            for rule, delivery in entry.owed(clock, wall, self.wait_ms):
                if (key, rule) in self.in_flight:
                    continue
                filed = violation(entry.intent_id, rule, entry.outcome, delivery, policy_version)
                value = self.ga.gate.codec.encode(topics.VIOLATIONS, filed.to_wire())
                self.in_flight.add((key, rule))

                def on_ack(_: float, p: int = partition, k: bytes = key, r: str = rule) -> None:
                    self._mark(p, k, r)

                self.ga.outputs.send(topics.VIOLATIONS, key, value, on_ack)
                if entry.outcome is None:  # judged by the wait, not by a verdict
                    self.metrics.deliveries_reconciled.labels(rule).inc()
                kind = (
                    "unknown" if filed.sender is None
                    else GateMetrics.sender_kind(filed.sender, first_party)
                )  # fmt: skip
                self.metrics.delivery_violations.labels(rule, kind).inc()
                self.metrics.violations.labels(rule, kind).inc()
                log.warning("intent %s: %s (delivery %s)", entry.intent_id, rule,
                            delivery.delivery_id)  # fmt: skip
                count += 1
            if entry.waiting:
                self.waiting[key] = partition
            else:
                self.waiting.pop(key, None)
        self.metrics.deliveries_pending.set(len(self.waiting))
        return count

    def _mark(self, partition: int, key: bytes, rule: str) -> None:
        """Kafka has the violation: mark its rule, locally and in the changelog (runs in the
        delivery callback, on the event loop, between batches)."""
        try:
            entry = self._entry(partition, key)
            if entry is not None:
                marked = entry.with_violation(rule)
                if marked is not entry:
                    self.store.put(partition, key, encode_entry(partition, marked))
                    self.store.flush()
                if not marked.waiting:
                    self.waiting.pop(key, None)
        except Exception:  # e.g. the partition moved away: its next owner sends it once more
            log.exception("could not mark intent %r as violated", key[:64])
        finally:
            self.in_flight.discard((key, rule))

    # ---------------------------------------------------------------- retention

    def sweep(self) -> int:
        """A whole retention pass at once (tests, tools). Returns how many were deleted."""
        if not self.ready():
            return 0
        self._pass = None
        deleted: int | None = None
        while deleted is None:
            deleted = self.sweep_step(limit=SWEEP_SLICE, force=True)
        return deleted

    def sweep_step(self, limit: int = SWEEP_SLICE, *, force: bool = False) -> int | None:
        """One slice of the retention pass: entries past retention with nothing waiting are
        deleted (tombstoned), waiting ones indexed. A pass starts every SWEEP_INTERVAL_S (at
        once after a start, to rebuild the index; `force`: now) and runs slice by slice, by the
        later of wall time and record time when it started. Call inside an outputs batch, with
        no await. Returns how many the pass deleted when this slice ended it, else None."""
        if not self.ready():
            return None
        wall = self.wall_ms()
        if self._pass is None:
            if not force and wall < self._next_pass_ms:
                return None
            self._pass = (None, max(wall, self.record_clock_ms), 0)
            self._next_pass_ms = wall + int(SWEEP_INTERVAL_S * 1000)
        cursor, now, deleted = self._pass
        found, cursor = faust_compat.scan_slice(self.table, cursor, limit)
        for key, value in found:
            try:
                partition, waiting, seen_ms = header(value)
            except ValueError:
                log.warning("unreadable delivery table value for key %r", key[:64])
                continue
            key = bytes(key)
            if waiting:
                self.waiting[key] = partition
            elif now >= seen_ms + self.retention_ms and not any(
                k == key for k, _ in self.in_flight
            ):
                self.store.delete(partition, key)
                deleted += 1
        self.store.flush()
        if cursor is not None:
            self._pass = (cursor, now, deleted)
            return None
        self._pass = None
        self.indexed = True
        self.metrics.deliveries_pending.set(len(self.waiting))
        return deleted


def outcome_in(msg: Inbound) -> IntentOutcome | None:
    """The verdict's outcome from its header (topics.OUTCOME_HEADER), without decoding the
    value; None when it has none or the header does not read."""
    headers = msg.headers
    if not headers:
        return None
    found = (
        headers.get(topics.OUTCOME_HEADER) if isinstance(headers, Mapping)
        else next((v for k, v in headers if k == topics.OUTCOME_HEADER), None)
    )  # fmt: skip
    if not isinstance(found, bytes):
        return None
    try:
        return decode_outcome(found)
    except ValueError as exc:
        log.debug("verdict %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, exc)
        return None


def add_delivery_agents(ga: WorkerApp) -> DeliveryReconciler:
    """Wire the deliveries table, the reconciler agent and its timers into `ga` (module doc)."""
    from streams.runtime.app import batch_agent, inbound

    app, settings = ga.app, ga.settings
    partitions = settings.partitions
    source = app.topic(
        ga.names[topics.VERDICTS.base], ga.names[topics.DELIVERIES.base],
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
        partitions=partitions, internal=False,
    )  # fmt: skip
    table = app.Table(
        TABLE_NAME, default=None, key_type=bytes, value_type=bytes, partitions=partitions
    )
    store = WriteBehindStore(table, ga.outputs)
    ga.stores.append(store)

    def ready() -> bool:
        return not_ready_reason(faust_compat.recovery_state(app)) is None

    reconciler = DeliveryReconciler(ga, table, store, ready=ready)

    def reconcile(events: list[Any]) -> None:
        with ga.outputs.batch(ga.acknowledge(events, (store,))):
            for event in events:
                reconciler.handle(inbound(event.message))
            store.flush()
            reconciler.check()

    agent = app.agent(source, name="delivery-reconciler")(
        batch_agent(
            "delivery-reconciler",
            BATCH_SIZE,
            topics.DELIVERIES,
            reconcile,
            codec=ga.gate.codec,
            metrics=ga.metrics,
            discard=store.discard,
            acks=ga.acks,
            topic_specs={
                ga.names[topics.VERDICTS.base]: topics.VERDICTS,
                ga.names[topics.DELIVERIES.base]: topics.DELIVERIES,
            },
            linger_s=LINGER_S,
        )
    )

    @app.timer(interval=CHECK_INTERVAL_S)
    async def check_deliveries() -> None:
        with ga.outputs.batch(store.persist_offsets):
            reconciler.check()

    @app.timer(interval=SWEEP_STEP_S)
    async def sweep_deliveries() -> None:
        with ga.outputs.batch(store.persist_offsets):
            reconciler.sweep_step()

    ga.agents.update(delivery_reconciler=agent)
    ga.deliveries = reconciler  # type: ignore[attr-defined]
    return reconciler
