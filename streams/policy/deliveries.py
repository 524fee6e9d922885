"""Delivery reconciliation (issue 15 §5): what the delivery side says it sent, against the
intent's verdict. Pure: the replay (replay.py) and the worker (streams/runtime/deliveries.py)
both decide with `classify` and file with `violation`; the worker keeps one `Reconciliation` per
intent id in a table.

| verdict known for the intent id | delivery            | outcome              |
|---------------------------------|---------------------|----------------------|
| allow                           | same recipient and channel | fine (OK)     |
| allow                           | other recipient or channel | SENT_WITHOUT_ALLOW |
| deny (any reason)               | any                 | SENT_AFTER_DENY      |
| none                            | any                 | SENT_WITHOUT_ALLOW   |

"Same recipient": the normalized addresses are equal where both are known (the replay), else
the verdict's `recipient_ref` is a pseudonym of the delivered address under one of the keys in
force (the worker, which reads only verdicts). A recipient that cannot be compared (a verdict
without `recipient_ref`, a key no longer configured) is not the same: an allow that cannot be
shown to cover the message does not cover it (fail closed). "Same channel" is exact: an intent
allowed for sms delivered by whatsapp was not allowed.

Both rules are critical and not intent deny codes: they never enter reasons.DENY_PRECEDENCE
(like COMPLAINT_ACK_OVERDUE in complaints.py). One violation per intent id and rule, with id
`<intent id>:<rule>`, so replays and re-sends produce the very same record.

In the worker, a delivery may come before its verdict (two topics, read independently): it
waits in the entry (`pending`) until the verdict comes or `expired` says the wait is over. An
entry keeps at most MAX_DELIVERIES deliveries of distinct (channel, recipient): at most one
recipient can be the intent's, so two distinct ones already decide every rule the entry can owe.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import orjson

from streams.policy.pseudonym import Pseudonyms
from streams.policy.records import DeliveryRecord, Verdict, Violation
from streams.policy.times import epoch_ms, from_epoch_ms

SENT_WITHOUT_ALLOW: Final = "SENT_WITHOUT_ALLOW"
SENT_AFTER_DENY: Final = "SENT_AFTER_DENY"
DELIVERY_RULES: Final = (SENT_WITHOUT_ALLOW, SENT_AFTER_DENY)
OK: Final = "OK"  # the outcome of a delivery its verdict allowed (a metrics label, no violation)
OUTCOMES: Final = (OK, *DELIVERY_RULES)
# A message went to someone the gate did not clear (or refused): the worst the gate can see.
DELIVERY_SEVERITY: Final = "critical"
MAX_DELIVERIES: Final = 2


@dataclass(frozen=True, slots=True)
class IntentOutcome:
    """What reconciliation needs of an intent's verdict. `address` is the normalized address
    where the caller knows it (the replay); the worker has only `recipient_ref`."""

    intent_id: str
    decision: str
    reason: str
    channel: str | None = None
    sender: str | None = None
    intent_at_ms: int | None = None
    recipient_ref: str | None = None
    address: str | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    @classmethod
    def of(cls, verdict: Verdict | Mapping[str, Any], address: str | None = None) -> IntentOutcome:
        """From a Verdict or a decoded verdict record (the `verdicts` topic's value)."""
        v = verdict.to_wire() if isinstance(verdict, Verdict) else verdict
        at = v.get("intent_at")
        return cls(
            intent_id=str(v["id"]), decision=str(v["decision"]), reason=str(v["reason"]),
            channel=v.get("channel"), sender=v.get("sender"),
            intent_at_ms=epoch_ms(at) if isinstance(at, datetime) else None,
            recipient_ref=v.get("recipient_ref"), address=address,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Delivered:
    """A delivery as reconciliation keeps it: no address but in the replay (`address`); `refs`
    are its pseudonyms under every key in force (current first; empty without keys)."""

    delivery_id: str
    at_ms: int
    channel: str
    sender: str | None = None
    refs: tuple[str, ...] = ()
    address: str | None = None
    received_ms: int = 0  # record time of the report (the worker's wait counts from it)
    noticed_ms: int = 0  # wall time when the worker first held it (the wait's other start)
    judged: bool = False  # filed SENT_WITHOUT_ALLOW before any verdict: a later one changes nothing

    @classmethod
    def of(
        cls,
        record: DeliveryRecord,
        pseudonyms: Pseudonyms | None,
        *,
        received_at: datetime,
        keep_address: bool = False,
        noticed_ms: int = 0,
    ) -> Delivered:
        """`received_at` stands in for an unreadable `at`."""
        at = record.at if record.at is not None else received_at
        return cls(
            delivery_id=record.id, at_ms=epoch_ms(at), channel=record.channel,
            sender=record.sender,
            refs=() if pseudonyms is None else pseudonyms.refs(record.address),
            address=record.address if keep_address else None,
            received_ms=epoch_ms(received_at), noticed_ms=noticed_ms,
        )  # fmt: skip

    def same_recipient(self, outcome: IntentOutcome) -> bool:
        if outcome.address is not None and self.address is not None:
            return outcome.address == self.address
        return outcome.recipient_ref is not None and outcome.recipient_ref in self.refs

    def ref_beside(self, outcome: IntentOutcome | None) -> str | None:
        """The delivered address's pseudonym under the key of the intent's (so the two compare
        at a glance), else under the current key."""
        if outcome is not None and outcome.recipient_ref is not None:
            kid = outcome.recipient_ref.partition(":")[0] + ":"
            for ref in self.refs:
                if ref.startswith(kid):
                    return ref
        return self.refs[0] if self.refs else None


def classify(outcome: IntentOutcome | None, delivery: Delivered) -> str:
    """OK or the rule the delivery breaks (module doc's table)."""
    if outcome is None:
        return SENT_WITHOUT_ALLOW
    if not outcome.allowed:
        return SENT_AFTER_DENY
    if delivery.channel != outcome.channel or not delivery.same_recipient(outcome):
        return SENT_WITHOUT_ALLOW
    return OK


def violation(
    intent_id: str,
    rule: str,
    outcome: IntentOutcome | None,
    delivery: Delivered,
    policy_version: str | None = None,
) -> Violation:
    """The violation `rule` files for `delivery`. Sender: the verdict's, else the delivery's;
    channel: the delivery's (what went out); `at` and `delivered_at`: when it went out."""
    sender = outcome.sender if outcome is not None and outcome.sender else delivery.sender
    at = from_epoch_ms(delivery.at_ms)
    intent_at = None if outcome is None or outcome.intent_at_ms is None else outcome.intent_at_ms
    return Violation(
        id=f"{intent_id}:{rule}", intent_id=intent_id, sender=sender, channel=delivery.channel,
        rule=rule, severity=DELIVERY_SEVERITY, at=at, reasons=(rule,),
        policy_version=policy_version,
        recipient_ref=None if outcome is None else outcome.recipient_ref,
        intent_at=None if intent_at is None else from_epoch_ms(intent_at),
        delivered_at=at, delivered_ref=delivery.ref_beside(outcome),
    )  # fmt: skip


# ---------------------------------------------------------------------------- the worker's entry


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The worker's table value for one intent id: its verdict (the first seen: a later one for
    the same id is the gate's INVALID_INTENT for a reused id, about other content), the
    deliveries reported for it (at most MAX_DELIVERIES of distinct channel and recipient), the
    rules whose violation Kafka has (`violated`), and the record time of the latest record about
    it (`seen_ms`, for retention).

    Violations are derived from the state (`owed`), never from a transition, and marked only
    once Kafka has them: a worker that dies in between sends them again, never none."""

    intent_id: str
    outcome: IntentOutcome | None = None
    deliveries: tuple[Delivered, ...] = ()
    violated: tuple[str, ...] = ()
    seen_ms: int = 0

    @property
    def waiting(self) -> bool:
        """Deliveries with no verdict yet and no SENT_WITHOUT_ALLOW filed for them."""
        return self.outcome is None and bool(self.deliveries) and (
            SENT_WITHOUT_ALLOW not in self.violated
        )  # fmt: skip

    def with_verdict(self, outcome: IntentOutcome, seen_ms: int) -> Reconciliation:
        if self.outcome is not None:
            return self
        return replace(self, outcome=outcome, seen_ms=max(self.seen_ms, seen_ms))

    def with_delivery(self, delivery: Delivered, seen_ms: int) -> Reconciliation:
        """Kept unless one of the same channel and recipient is (a re-sent or retried report)
        or MAX_DELIVERIES are already."""
        seen = max(self.seen_ms, seen_ms)
        key = (delivery.channel, delivery.refs, delivery.address)
        kept = {(d.channel, d.refs, d.address) for d in self.deliveries}
        if key in kept or len(self.deliveries) >= MAX_DELIVERIES:
            return self if seen == self.seen_ms else replace(self, seen_ms=seen)
        return replace(self, deliveries=(*self.deliveries, delivery), seen_ms=seen)

    def with_violation(self, rule: str) -> Reconciliation:
        """Kafka has the violation of `rule`. Filed with no verdict known, it judged the
        deliveries held: a verdict coming later does not judge them again."""
        if rule in self.violated:
            return self
        deliveries = self.deliveries
        if self.outcome is None:
            deliveries = tuple(replace(d, judged=True) for d in deliveries)
        return replace(self, deliveries=deliveries, violated=tuple(sorted((*self.violated, rule))))

    def expired(
        self, delivery: Delivered, verdict_clock_ms: int, wall_ms: int, wait_ms: int
    ) -> bool:
        """A delivery with no verdict waited long enough: verdicts of `wait` after its receipt
        have been read (record time), or the worker has held it for `wait` (wall time)."""
        return (
            verdict_clock_ms >= delivery.received_ms + wait_ms
            or wall_ms >= delivery.noticed_ms + wait_ms
        )  # fmt: skip

    def owed(
        self, verdict_clock_ms: int, wall_ms: int, wait_ms: int
    ) -> list[tuple[str, Delivered]]:
        """(rule, the first delivery breaking it) for every rule due and not yet violated."""
        found: dict[str, Delivered] = {}
        for delivery in self.deliveries:
            if delivery.judged:
                continue
            if self.outcome is None and not self.expired(
                delivery, verdict_clock_ms, wall_ms, wait_ms
            ):
                continue
            rule = classify(self.outcome, delivery)
            if rule != OK and rule not in self.violated:
                found.setdefault(rule, delivery)
        return sorted(found.items())

    def outcomes(self) -> list[str]:
        """The outcome of each delivery held, once its verdict is known (metrics)."""
        if self.outcome is None:
            return []
        return [classify(self.outcome, d) for d in self.deliveries if not d.judged]

    def expires(self, now_ms: int, retention_ms: int) -> bool:
        """Dropped by the retention sweep: nothing about it for `retention`, nothing waiting."""
        return now_ms >= self.seen_ms + retention_ms and not self.waiting


# ---------------------------------------------------------------------------- encoding
# Table values: a fixed header the sweep reads without decoding (format, partition, waiting,
# seen_ms), then an orjson array.

_HEADER: Final = struct.Struct(">BH?q")
_FORMAT: Final = 1
# The verdict's outcome header: id, decision, reason, channel, sender, intent_at_ms, recipient_ref.
MAX_OUTCOME_BYTES: Final = 4096
_MAYBE_STR: Final = (str, type(None))
_OUTCOME_TYPES: Final[tuple[type | tuple[type, ...], ...]] = (
    str, str, str, _MAYBE_STR, _MAYBE_STR, (int, type(None)), _MAYBE_STR,
)  # fmt: skip


def header(data: bytes) -> tuple[int, bool, int]:
    """(partition, waiting, seen_ms) of a table value, cheaply (the sweep reads every one)."""
    if len(data) < _HEADER.size or data[0] != _FORMAT:
        raise ValueError("not a delivery table value")
    _, partition, waiting, seen_ms = _HEADER.unpack_from(data)
    return partition, waiting, seen_ms


def _outcome_row(o: IntentOutcome) -> list[Any]:
    return [o.intent_id, o.decision, o.reason, o.channel, o.sender, o.intent_at_ms, o.recipient_ref]


def encode_outcome(outcome: IntentOutcome) -> bytes:
    """The verdict's OUTCOME_HEADER value: what reconciliation needs of it, without Avro."""
    return orjson.dumps(_outcome_row(outcome))


def outcome_header(verdict: Verdict) -> bytes:
    """`encode_outcome(IntentOutcome.of(verdict))` without building either: the gate writes one
    per verdict."""
    at = verdict.intent_at
    return orjson.dumps([
        verdict.id, verdict.decision, verdict.reason, verdict.channel, verdict.sender,
        None if at is None else epoch_ms(at), verdict.recipient_ref,
    ])  # fmt: skip


def decode_outcome(data: bytes) -> IntentOutcome:
    """An OUTCOME_HEADER value, checked field by field (it comes from Kafka); ValueError when
    it is not one, and the caller reads the verdict itself instead."""
    if len(data) > MAX_OUTCOME_BYTES:
        raise ValueError(f"outcome header of {len(data)} bytes")
    try:
        row = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"outcome header is not JSON: {exc}") from None
    if not isinstance(row, list) or len(row) != len(_OUTCOME_TYPES):
        raise ValueError("outcome header is not a list of seven fields")
    for value, types in zip(row, _OUTCOME_TYPES, strict=True):
        if not isinstance(value, types) or isinstance(value, bool):
            raise ValueError(f"outcome header field {value!r:.40} has the wrong type")
    if row[1] not in ("allow", "deny") or not row[0]:
        raise ValueError("outcome header has no intent id or an unknown decision")
    return IntentOutcome(*row)


def encode_entry(partition: int, entry: Reconciliation) -> bytes:
    o = entry.outcome
    outcome = None if o is None else _outcome_row(o)
    deliveries = [
        [
            d.delivery_id,
            d.at_ms,
            d.channel,
            d.sender,
            list(d.refs),
            d.received_ms,
            d.noticed_ms,
            d.judged,
        ]
        for d in entry.deliveries
    ]
    body = orjson.dumps([entry.intent_id, outcome, deliveries, list(entry.violated)])
    return _HEADER.pack(_FORMAT, partition, entry.waiting, entry.seen_ms) + body


def decode_entry(data: bytes) -> tuple[int, Reconciliation]:
    partition, _, seen_ms = header(data)
    try:
        intent_id, outcome, deliveries, violated = orjson.loads(memoryview(data)[_HEADER.size :])
        entry = Reconciliation(
            intent_id=intent_id,
            outcome=None if outcome is None else IntentOutcome(*outcome),
            deliveries=tuple(
                Delivered(i, at, ch, s, tuple(refs), None, rec, noticed, bool(judged))
                for i, at, ch, s, refs, rec, noticed, judged in deliveries
            ),
            violated=tuple(violated),
            seen_ms=seen_ms,
        )
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise ValueError(f"malformed delivery table value: {exc}") from None
    return partition, entry
