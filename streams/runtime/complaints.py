"""Complaints on Kafka (issue 15 §4): applied as opt-outs, tracked until acknowledged, and one
`COMPLAINT_ACK_OVERDUE` violation for each the DPO did not acknowledge within 5 business days.

Topics and agents (`add_complaint_agents`, called once from `create_app`):

- `complaints`, keyed by the normalized address and co-partitioned with the other recipient
  topics. The `complaint` agent applies each as the opt-out it is, to the recipient table through
  the worker's write-behind store (as the opt-out agent does), and forwards it, keyed by its id
  and with `at` resolved (the broker timestamp where its own is unreadable) and `text` dropped,
  to `complaints-open`. A complaint keyed other than by its address is re-routed to it first.
- `complaints-open` and `complaint-acks`, both keyed by the complaint id and created with the
  same partition count (CONSENTGATE_PARTITIONS): the `complaint-tracker` agent reads both, so a
  complaint and its ack meet in one partition of the `complaints` table (key: complaint id;
  value: the partition, then `policy.complaints.encode_complaint`). An ack keyed other than by
  its complaint id is re-routed to it.

The overdue check (`ComplaintTracker.check`) runs after every tracker batch and on a timer every
CHECK_INTERVAL_S. Its clock is the later of wall time and the latest broker timestamp the
complaint agents have seen: record time lets a backlog or a test with dated records reach a
deadline at once, wall time makes a quiet topic still raise the violation. It runs only when
faust's table recovery is complete (a half-rebuilt table could show a complaint without its
"violation emitted" mark).

Exactly one violation per complaint, across restarts. The violation (id `<complaint
id>:COMPLAINT_ACK_OVERDUE`, keyed by the complaint id, on `violations`) is sent first; in the
callback of Kafka's acknowledgement, the entry's `violated` mark is written to the table and sent
to its changelog at once (a graceful shutdown delivers it: it flushes the producer). Between the
two the complaint is held in memory as in flight and not sent again. A worker killed in that
window (the round trip of one produce) sends it again after the restart, with the same id: never
none. After the mark, a restart or another worker never sends it again: the mark is in the
changelog.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams import topics
from streams.metrics import GateMetrics
from streams.policy.complaints import (
    OpenComplaint,
    acknowledge,
    decode_complaint,
    encode_complaint,
    overdue,
    receive,
)
from streams.policy.records import ComplaintAckRecord, ComplaintRecord
from streams.policy.state import complaint as apply_complaint
from streams.policy.times import format_instant
from streams.runtime import faust_compat, late_optouts
from streams.runtime.gate import Inbound, received_at
from streams.runtime.health import not_ready_reason
from streams.runtime.statestore import WriteBehindStore
from streams.runtime.stored import decode_stored, encode_stored
from streams.serdes import SerdesError

if TYPE_CHECKING:
    from streams.runtime.app import WorkerApp

log = logging.getLogger(__name__)

TABLE_NAME = "complaints"
CHECK_INTERVAL_S = 30.0
BATCH_SIZE = 200
_ENVELOPE = struct.Struct(">BH")  # format 1, then the table partition of the entry
_ENVELOPE_FORMAT = 1


def envelope(partition: int, entry: OpenComplaint) -> bytes:
    return _ENVELOPE.pack(_ENVELOPE_FORMAT, partition) + encode_complaint(entry)


def open_envelope(data: bytes) -> tuple[int, OpenComplaint]:
    if len(data) < _ENVELOPE.size or data[0] != _ENVELOPE_FORMAT:
        raise ValueError("not a complaint table value")
    _, partition = _ENVELOPE.unpack_from(data)
    return partition, decode_complaint(data[_ENVELOPE.size :])


class ComplaintTracker:
    """The complaint handling of one worker (module docstring)."""

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
        self.record_clock_ms = 0
        self.in_flight: set[bytes] = set()
        self.metrics: GateMetrics = ga.metrics
        self.open_name = ga.names[topics.COMPLAINTS_OPEN.base]
        self.ack_name = ga.names[topics.COMPLAINT_ACKS.base]

    # ---------------------------------------------------------------- the clock

    def observe(self, msg: Inbound) -> None:
        if msg.timestamp and msg.timestamp > 0:
            self.record_clock_ms = max(self.record_clock_ms, int(msg.timestamp * 1000))

    def now_ms(self) -> int:
        return max(self.wall_ms(), self.record_clock_ms)

    # ---------------------------------------------------------------- complaints (by address)

    def apply(self, msg: Inbound) -> None:
        """A complaint: the recipient's opt-out, then forwarded to complaints-open."""
        gate = self.ga.gate
        self.observe(msg)
        try:
            record = self._read(topics.COMPLAINTS, msg, ComplaintRecord.KIND)
            if not isinstance(record, ComplaintRecord):
                return
            if gate._misrouted(topics.COMPLAINTS, msg, record.address):
                return
            received = received_at(msg)
            key = record.address.encode()
            stored = decode_stored(self.ga.store.get(msg.partition, key))
            state = apply_complaint(stored.state, record, gate.config, received)
            if state == stored.state:
                self.metrics.records_applied.labels(
                    topics.COMPLAINTS.base, "complaint", "duplicate"
                ).inc()
                late_optouts.report(gate, stored, record.as_optout(received), counted=False)
            else:
                self.ga.store.put(msg.partition, key, encode_stored(stored.with_state(state)))
                self.metrics.records_applied.labels(
                    topics.COMPLAINTS.base, "complaint", "applied"
                ).inc()
                self.metrics.optouts.labels(record.channel, "complaint").inc()
                late_optouts.report(gate, stored, record.as_optout(received))  # issue 15 §5
            forward = {
                "id": record.id,
                "at": record.at if record.at is not None else received,
                "channel": record.channel,
                "address": record.address,
                "party": record.party,
                "jurisdiction": record.jurisdiction,
                "text": None,  # the complaint itself keeps it; the tracker needs none
                "region": record.region,
                "timezone": record.timezone,
            }
            value = gate.codec.encode(topics.COMPLAINTS_OPEN, forward)
            self.ga.outputs.send(topics.COMPLAINTS_OPEN, record.id.encode(), value)
        except Exception as exc:  # a bug must not stop the partition: dead-letter and go on
            self._failed(topics.COMPLAINTS, msg, exc)

    # ---------------------------------------------------------------- tracking (by complaint id)

    def track(self, msg: Inbound) -> None:
        """An open complaint or an ack, into the complaint table."""
        self.observe(msg)
        spec = topics.COMPLAINTS_OPEN if msg.topic == self.open_name else topics.COMPLAINT_ACKS
        try:
            kind = ComplaintRecord.KIND if spec is topics.COMPLAINTS_OPEN else "complaint_ack"
            record = self._read(spec, msg, kind)
            if record is None:
                return
            cid = (
                record.complaint_id if isinstance(record, ComplaintAckRecord) else record.id
            ).encode()
            if msg.key != cid:  # re-route to the complaint's partition
                if msg.value is not None:
                    self.ga.outputs.send(spec, cid, msg.value)
                self.metrics.records_applied.labels(spec.base, "reroute", "rerouted").inc()
                return
            current = self._entry(msg.partition, cid)
            if isinstance(record, ComplaintRecord):
                entry = receive(current, record, received_at(msg))
                if entry is not current:
                    self.metrics.complaints.labels(record.channel).inc()
            else:
                assert isinstance(record, ComplaintAckRecord)
                entry = acknowledge(current, record)
            outcome = "duplicate" if entry == current else "applied"
            self.metrics.records_applied.labels(spec.base, kind, outcome).inc()
            if entry != current:
                self.store.put(msg.partition, cid, envelope(msg.partition, entry))
        except Exception as exc:
            self._failed(spec, msg, exc)

    def _entry(self, partition: int, key: bytes) -> OpenComplaint | None:
        data = self.store.get(partition, key)
        return None if data is None else open_envelope(data)[1]

    # ---------------------------------------------------------------- the overdue check

    def check(self) -> int:
        """Send the violations due now, once each. Call inside an outputs batch, with no await.
        Returns how many were sent."""
        if not self.ready():
            return 0
        now = self.now_ms()
        entries: list[tuple[int, bytes, OpenComplaint]] = []
        for key, value in list(self.table.data.items()):
            try:
                partition, entry = open_envelope(value)
            except ValueError:
                log.warning("unreadable complaint table value for key %r", key[:64])
                continue
            entries.append((partition, bytes(key), entry))
        self.metrics.complaints_open.set(sum(e.waiting and not e.due(now) for _, _, e in entries))
        by_id = {e.complaint_id: (p, k) for p, k, e in entries}
        due = [e for e in overdue((e for _, _, e in entries), now) if _key(e) not in self.in_flight]
        policy_version = self.ga.settings.policy.policy_version
        for entry in due:
            partition, key = by_id[entry.complaint_id]
            violation = entry.violation(policy_version)
            value = self.ga.gate.codec.encode(topics.VIOLATIONS, violation.to_wire())
            self.in_flight.add(key)

            def on_ack(_: float, partition: int = partition, key: bytes = key) -> None:
                self._mark(partition, key)

            self.ga.outputs.send(topics.VIOLATIONS, key, value, on_ack)
            self.metrics.complaint_acks_overdue.inc()
            kind = GateMetrics.sender_kind(entry.party or "", self.ga.settings.policy.first_party)
            self.metrics.violations.labels(violation.rule, kind).inc()
            log.warning(
                "complaint %s was not acknowledged by %s: COMPLAINT_ACK_OVERDUE",
                entry.complaint_id,
                format_instant(violation.at),
            )
        return len(due)

    def _mark(self, partition: int, key: bytes) -> None:
        """Kafka has the violation: write the `violated` mark, locally and to the changelog
        (runs in the delivery callback, on the event loop, between batches)."""
        try:
            entry = self._entry(partition, key)
            if entry is not None and not entry.violated:
                self.store.put(partition, key, envelope(partition, entry.with_violation()))
                self.store.flush()
        except Exception:  # e.g. the partition moved away: its next owner sends it once more
            log.exception("could not mark complaint %r as violated", key[:64])
        finally:
            self.in_flight.discard(key)

    # ---------------------------------------------------------------- helpers

    def _read(self, spec: topics.TopicSpec, msg: Inbound, kind: str) -> Any:
        # A complaint is applied after repair, like an opt-out; an ack is read strictly.
        repaired = "applied" if spec is topics.COMPLAINTS else None
        return self.ga.gate.read(spec, msg, kind, repaired=repaired)

    def _failed(self, spec: topics.TopicSpec, msg: Inbound, exc: Exception) -> None:
        log.exception("unexpected error on %s[%d]@%d", msg.topic, msg.partition, msg.offset)
        self.metrics.processing_errors.labels(spec.base).inc()
        error_class = exc.error_class if isinstance(exc, SerdesError) else "internal_error"
        self.ga.gate._dead_letter(msg, error_class, f"{type(exc).__name__}: {exc}", None)


def _key(entry: OpenComplaint) -> bytes:
    return entry.complaint_id.encode()


def add_complaint_agents(ga: WorkerApp) -> ComplaintTracker:
    """Wire the complaint topics, table, agents and timer into `ga` (module docstring)."""
    from streams.runtime.app import batch_agent, inbound

    app, settings = ga.app, ga.settings
    partitions = settings.partitions

    def raw(*names: str, count: int | None) -> Any:
        return app.topic(
            *names, key_type=bytes, value_type=bytes, key_serializer="raw",
            value_serializer="raw", partitions=count, internal=False,
        )  # fmt: skip

    complaint_topic = raw(ga.names[topics.COMPLAINTS.base], count=None)
    tracked_topics = raw(
        ga.names[topics.COMPLAINTS_OPEN.base], ga.names[topics.COMPLAINT_ACKS.base],
        count=partitions,
    )  # fmt: skip
    table = app.Table(
        TABLE_NAME, default=None, key_type=bytes, value_type=bytes, partitions=partitions
    )
    store = WriteBehindStore(table, ga.outputs)
    ga.stores.append(store)

    def ready() -> bool:
        return not_ready_reason(faust_compat.recovery_state(app)) is None

    tracker = ComplaintTracker(ga, table, store, ready=ready)

    acknowledge = ga.acknowledge

    def discard() -> None:
        ga.store.discard()
        store.discard()

    def batches(name: str, spec: topics.TopicSpec, handle: Callable[[list[Any]], None]) -> Any:
        return batch_agent(
            name, BATCH_SIZE, spec, handle,
            codec=ga.gate.codec, metrics=ga.metrics, discard=discard, acks=ga.acks,
            topic_specs={
                ga.names[s.base]: s for s in (topics.COMPLAINTS_OPEN, topics.COMPLAINT_ACKS)
            },
        )  # fmt: skip

    def apply_complaints(events: list[Any]) -> None:
        with ga.outputs.batch(acknowledge(events, (ga.store,))):
            for event in events:
                tracker.apply(inbound(event.message))
            ga.store.flush()
        for event in events:
            message = event.message
            ga.positions.advance((message.topic, message.partition), message.offset)

    def track_complaints(events: list[Any]) -> None:
        with ga.outputs.batch(acknowledge(events, (store,))):
            for event in events:
                tracker.track(inbound(event.message))
            store.flush()
            tracker.check()

    complaint_agent = app.agent(complaint_topic, name="complaint")(
        batches("complaint", topics.COMPLAINTS, apply_complaints)
    )
    tracker_agent = app.agent(tracked_topics, name="complaint-tracker")(
        batches("complaint-tracker", topics.COMPLAINTS_OPEN, track_complaints)
    )

    @app.timer(interval=CHECK_INTERVAL_S)
    async def check_complaints() -> None:
        with ga.outputs.batch(store.persist_offsets):
            tracker.check()

    ga.agents.update(complaint=complaint_agent, complaint_tracker=tracker_agent)
    ga.complaints = tracker  # type: ignore[attr-defined]
    return tracker
