"""The one metrics bundle, on an injectable registry.

Labels are bounded by construction: decisions, reason codes, channels, rule ids, sender kinds
(first or third party), topic base names, record kinds, opt-out methods and error classes. Never an
address, a message id or a party id.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams import topics
from streams.serdes.codec import DECODE_ERROR_CLASSES

# Dead-letter error classes the gate itself gives, besides the codec's decode errors.
GATE_ERROR_CLASSES = (
    "invalid_record",
    "internal_error",
    "registry_unavailable",
    "repaired",
    "reused_id",
)

# Decision latency spans broker timestamp to verdict ack: sub-millisecond to seconds.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
HOLD_BUCKETS = (0.0, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class GateMetrics:
    """Every metric family consentgate exports. Create one per process (or per test registry)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.intents_received = Counter(
            "consentgate_intents_received",
            "Send intents read from Kafka, decodable or not.",
            registry=r,
        )
        self.verdicts = Counter(
            "consentgate_verdicts",
            "Verdicts written, by decision, decisive reason and channel.",
            ["decision", "reason", "channel"],
            registry=r,
        )
        self.violations = Counter(
            "consentgate_violations",
            "Violation records written, by rule and sender kind (first_party, third_party).",
            ["rule", "sender_kind"],
            registry=r,
        )
        self.decision_latency = Histogram(
            "consentgate_decision_latency_seconds",
            "From the intent's broker timestamp to the acknowledgement of its verdict.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ordering_hold = Histogram(
            "consentgate_ordering_hold_seconds",
            "How long an intent waited for consent and opt-out partitions (read your opt-outs).",
            buckets=HOLD_BUCKETS,
            registry=r,
        )
        self.ordering_timeouts = Counter(
            "consentgate_ordering_timeouts",
            "Intents denied because consent and opt-out partitions did not catch up in time.",
            registry=r,
        )
        self.records_applied = Counter(
            "consentgate_records_applied",
            "State records applied, by source topic and kind (grant, confirm, optout, signed, "
            "revoked) and outcome (applied, duplicate).",
            ["topic", "kind", "outcome"],
            registry=r,
        )
        self.optouts = Counter(
            "consentgate_optouts",
            "Opt-outs applied, by channel and method.",
            ["channel", "method"],
            registry=r,
        )
        self.dead_letters = Counter(
            "consentgate_dead_letters",
            "Records dead-lettered, by source topic and error class.",
            ["source_topic", "error_class"],
            registry=r,
        )
        self.consent_records = Gauge(
            "consentgate_consent_records",
            "Recipients (normalized addresses) held in this worker's consent table partitions.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "consentgate_consumer_lag",
            "Records between this worker's position and the high watermark, per input topic.",
            ["topic"],
            registry=r,
        )
        self.registry_waits = Counter(
            "consentgate_registry_waits",
            "Batches that waited for the schema registry (it could not be asked), by input "
            "topic. The records wait; none is dead-lettered for an outage.",
            ["topic"],
            registry=r,
        )
        self.stale_acks = Counter(
            "consentgate_stale_acks_skipped",
            "Input events whose acknowledgement was withheld because a rebalance came between "
            "their fetch and their acknowledgement (or faust skipped them during one): their "
            "partition is read again from the committed offset (streams/runtime/acks.py).",
            registry=r,
        )
        self.holes_read_again = Counter(
            "consentgate_holes_read_again",
            "Times a partition was read again from an offset faust skipped during a rebalance "
            "and nobody decided (streams/runtime/app.py, read_holes_again).",
            registry=r,
        )
        self.records_repaired = Counter(
            "consentgate_records_repaired",
            "Opt-outs and revocations applied after a repair (an unreadable time, a channel's "
            "case, ...), by source topic; each also produced a dead-letter copy saying what.",
            ["topic"],
            registry=r,
        )
        self.commits_clamped = Counter(
            "consentgate_commits_clamped",
            "Commits that faust wanted past an offset the gate never released, held back to the "
            "last released one (runtime/app.py, `released`), by input topic. Should stay 0.",
            ["topic"],
            registry=r,
        )
        self.processing_errors = Counter(
            "consentgate_processing_errors",
            "Unexpected errors while handling a record (each also produced a dead letter).",
            ["topic"],
            registry=r,
        )
        self.worker_info = Gauge(
            "consentgate_worker_info",
            "Constant 1, labelled with the consentgate and policy versions this worker runs.",
            ["version", "policy_version"],
            registry=r,
        )
        # Complaints (issue 15 §4; streams/runtime/complaints.py).
        self.complaints = Counter(
            "consentgate_complaints",
            "Complaints received and applied as opt-outs (first sight of each id), by channel.",
            ["channel"],
            registry=r,
        )
        self.complaints_open = Gauge(
            "consentgate_complaints_open",
            "Complaints of this worker's partitions waiting for the DPO's acknowledgement, "
            "before their deadline (refreshed by the overdue check).",
            registry=r,
        )
        self.complaint_acks_overdue = Counter(
            "consentgate_complaint_acks_overdue",
            "COMPLAINT_ACK_OVERDUE violations emitted: complaints not acknowledged within 5 "
            "business days of the complainant's calendar (one per complaint).",
            registry=r,
        )
        # Late opt-outs (issue 15 §5; streams/runtime/late_optouts.py).
        self.late_optouts = Counter(
            "consentgate_late_optouts",
            "LATE_OPTOUT violations emitted: opt-outs dated at or before a promotional intent "
            "that was already allowed (one per intent and opt-out), for the compliance team.",
            registry=r,
        )
        # Erasure (issue 15 §6; streams/runtime/erasure.py).
        self.erasures = Counter(
            "consentgate_erasures",
            "Erasure requests applied: a person's consent state removed and their marker kept.",
            registry=r,
        )

        # Delivery reconciliation (issue 15 §5; streams/runtime/deliveries.py).
        self.deliveries_reconciled = Counter(
            "consentgate_deliveries_reconciled",
            "Delivery reports judged against their intent's verdict, by outcome (OK, "
            "SENT_WITHOUT_ALLOW, SENT_AFTER_DENY); a re-sent report of a delivery already held "
            "is not counted again.",
            ["outcome"],
            registry=r,
        )
        self.delivery_violations = Counter(
            "consentgate_delivery_violations",
            "SENT_WITHOUT_ALLOW and SENT_AFTER_DENY violations emitted (one per intent and rule), "
            "by rule and sender kind (first_party, third_party; unknown: no sender known).",
            ["rule", "sender_kind"],
            registry=r,
        )
        self.deliveries_pending = Gauge(
            "consentgate_deliveries_pending",
            "Intents of this worker's partitions with a delivery report waiting for the verdict "
            "(refreshed by the reconciler's check).",
            registry=r,
        )

        self.gc_pause = Counter(
            "consentgate_gc_pause_seconds",
            "Wall time the interpreter spent in garbage collection, by generation (0, 1, 2): "
            "the event loop is stopped meanwhile (`watch_gc`).",
            ["generation"],
            registry=r,
        )

    def watch_gc(self) -> Callable[[], None]:
        """Count garbage-collection pauses into `gc_pause` until the returned function is called.
        The hook is process-wide (`gc.callbacks`), so only a worker installs it, once."""
        children = [self.gc_pause.labels(str(g)) for g in range(3)]
        started = [0.0]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            elif started[0]:
                children[min(info.get("generation", 2), 2)].inc(time.perf_counter() - started[0])
                started[0] = 0.0

        gc.callbacks.append(on_gc)
        return lambda: gc.callbacks.remove(on_gc)

    def initialise(self) -> None:
        """Create at 0 every series whose labels are known at start-up, so a dashboard or an
        alert (`increase()`, `absent()`) sees the family before its first event: dead letters
        by input topic and error class, processing errors and lag by input topic. Families whose
        label values come from records (reasons by channel, rules, opt-out methods) start empty:
        their combinations are many and mostly impossible."""
        for spec in topics.INPUTS:
            for error_class in (*DECODE_ERROR_CLASSES, *GATE_ERROR_CLASSES):
                self.dead_letters.labels(spec.base, error_class)
            self.processing_errors.labels(spec.base)
            self.commits_clamped.labels(spec.base)
            self.consumer_lag.labels(spec.base)
        for generation in ("0", "1", "2"):
            self.gc_pause.labels(generation)
        for outcome in ("OK", "SENT_WITHOUT_ALLOW", "SENT_AFTER_DENY"):  # policy/deliveries.py
            self.deliveries_reconciled.labels(outcome)
        for rule in ("SENT_WITHOUT_ALLOW", "SENT_AFTER_DENY"):
            for kind in ("first_party", "third_party", "unknown"):
                self.delivery_violations.labels(rule, kind)

    @staticmethod
    def sender_kind(sender: str, first_party: str) -> str:
        return "first_party" if sender == first_party else "third_party"


class Children:
    """A metric's label children, looked up once each.

    prometheus_client's `labels()` checks and converts every value on each call (about 2 µs);
    the gate labels several series per record. The label values are bounded by construction, so
    the cache is too."""

    __slots__ = ("_cache", "_metric")

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._metric.labels(*values)
        return child
