"""Complaints the DPO must acknowledge within 5 business days, and the one violation each owes
when nobody does (issue 15 §4; policy §10).

A complaint is tracked from the moment the gate holds it: `OpenComplaint` keeps its deadline
(business_days.deadline, fixed when it is first seen), whether an ack came in time, and whether
its violation was emitted. `overdue(complaints, now)` lists the complaints whose deadline `now`
has reached with no ack dated before it and no violation yet; the caller emits a
`COMPLAINT_ACK_OVERDUE` violation for each and stores `with_violation()` in the same batch, which
makes it exactly one per complaint (the Kafka worker keeps the flag in a changelogged table, so
across restarts too; the violation id is `<complaint id>:COMPLAINT_ACK_OVERDUE` either way).

Rules, all idempotent so a redelivered record changes nothing:
- An ack dated before the deadline closes the complaint. An ack dated at or after it closes it
  too, but late: the clock has reached the deadline by then, so the violation is (or was) due.
- An ack that arrives before its complaint is kept (`acked_only`), so the complaint, when it
  comes, is born acknowledged (the Kafka topics are read independently).
- A complaint id seen again keeps its first deadline: a redelivery cannot push it back.
- "Now" is the caller's clock: in a file, the latest `at` read so far (or a `clock` record); in
  the worker, the later of wall time and the latest broker timestamp seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import orjson

from streams.policy.business_days import deadline as business_deadline
from streams.policy.records import ComplaintAckRecord, ComplaintRecord, Violation
from streams.policy.times import MAX_MS, epoch_ms, format_instant, from_epoch_ms

COMPLAINT_ACK_OVERDUE: Final = "COMPLAINT_ACK_OVERDUE"
# An unanswered complaint breaks the policy's promise but sends nothing to anyone: below the
# critical rules (a message to someone who said no), at the level of marketing without basis.
OVERDUE_SEVERITY: Final = "high"
_FORMAT: Final = 1


@dataclass(frozen=True, slots=True)
class OpenComplaint:
    """What the gate keeps per complaint id. `deadline_ms` None: only an ack has been seen."""

    complaint_id: str
    at_ms: int | None = None
    deadline_ms: int | None = None
    channel: str | None = None
    party: str | None = None
    jurisdiction: str | None = None
    acked_at_ms: int | None = None
    violated: bool = False

    @property
    def acked_only(self) -> bool:
        return self.deadline_ms is None

    @property
    def acked_in_time(self) -> bool:
        return (
            self.acked_at_ms is not None
            and self.deadline_ms is not None
            and self.acked_at_ms < self.deadline_ms
        )

    @property
    def waiting(self) -> bool:
        """Counted in `consentgate_complaints_open`: received, not acknowledged, no violation."""
        return self.deadline_ms is not None and self.acked_at_ms is None and not self.violated

    def due(self, now_ms: int) -> bool:
        """Overdue at `now_ms` and its violation not yet emitted."""
        return (
            self.deadline_ms is not None
            and not self.violated
            and now_ms >= self.deadline_ms
            and not self.acked_in_time
        )

    def with_violation(self) -> OpenComplaint:
        return replace(self, violated=True)

    def violation(self, policy_version: str | None = None) -> Violation:
        """The COMPLAINT_ACK_OVERDUE violation, dated at the deadline (so reprocessing and
        replays produce the very same record)."""
        assert self.deadline_ms is not None
        return Violation(
            id=f"{self.complaint_id}:{COMPLAINT_ACK_OVERDUE}",
            intent_id=self.complaint_id,
            sender=self.party,
            channel=self.channel,
            rule=COMPLAINT_ACK_OVERDUE,
            severity=OVERDUE_SEVERITY,
            at=from_epoch_ms(self.deadline_ms),
            reasons=(COMPLAINT_ACK_OVERDUE,),
            policy_version=policy_version,
            complaint_id=self.complaint_id,
            deadline=from_epoch_ms(self.deadline_ms),
        )


def receive(
    current: OpenComplaint | None, record: ComplaintRecord, received_at: datetime | None = None
) -> OpenComplaint:
    """The entry after complaint `record`; `current` itself when it changes nothing. An
    unreadable `at` counts from `received_at` (none: the complaint is tracked, never due)."""
    if current is not None and not current.acked_only:
        return current
    at = record.at if record.at is not None else received_at
    at_ms = None if at is None else epoch_ms(at)
    due_ms = (
        MAX_MS
        if at is None
        else epoch_ms(business_deadline(at, record.jurisdiction, record.region, record.timezone))
    )
    return OpenComplaint(
        complaint_id=record.id,
        at_ms=at_ms,
        deadline_ms=due_ms,
        channel=record.channel,
        party=record.party,
        jurisdiction=record.jurisdiction,
        acked_at_ms=None if current is None else current.acked_at_ms,
    )


def acknowledge(current: OpenComplaint | None, record: ComplaintAckRecord) -> OpenComplaint:
    """The entry after ack `record`. The earliest ack counts; later ones change nothing."""
    at = record.at_ms
    if current is None:
        return OpenComplaint(record.complaint_id, acked_at_ms=at)
    if current.acked_at_ms is not None and current.acked_at_ms <= at:
        return current
    return replace(current, acked_at_ms=at)


def overdue(complaints: Iterable[OpenComplaint], now: datetime | int) -> list[OpenComplaint]:
    """The complaints whose violation is due at `now` (a datetime or epoch ms), oldest deadline
    first."""
    now_ms = now if isinstance(now, int) else epoch_ms(now)
    due = [c for c in complaints if c.due(now_ms)]
    due.sort(key=lambda c: (c.deadline_ms, c.complaint_id))
    return due


def violation_json(complaint: OpenComplaint, policy_version: str | None = None) -> dict[str, Any]:
    """The line `consentgate replay` prints: the violation with `"type": "violation"`."""
    return {"type": "violation", **complaint.violation(policy_version).to_dict()}


# ---------------------------------------------------------------------------- encoding
# Table values of the worker's complaint table: a format byte, then an orjson array.


def encode_complaint(entry: OpenComplaint) -> bytes:
    return bytes([_FORMAT]) + orjson.dumps(
        [
            entry.complaint_id, entry.at_ms, entry.deadline_ms, entry.channel, entry.party,
            entry.jurisdiction, entry.acked_at_ms, entry.violated,
        ]
    )  # fmt: skip


def decode_complaint(data: bytes) -> OpenComplaint:
    if not data or data[0] != _FORMAT:
        raise ValueError(f"unknown complaint entry format {data[:1]!r}")
    try:
        cid, at_ms, deadline_ms, channel, party, jurisdiction, acked, violated = orjson.loads(
            memoryview(data)[1:]
        )
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise ValueError(f"malformed complaint entry: {exc}") from None
    return OpenComplaint(
        cid, at_ms, deadline_ms, channel, party, jurisdiction, acked, bool(violated)
    )


def describe(entry: OpenComplaint) -> dict[str, Any]:
    """JSON-ready view, for logs and tools."""
    return {
        "complaint_id": entry.complaint_id,
        "deadline": None if entry.deadline_ms is None else format_instant(
            from_epoch_ms(entry.deadline_ms)
        ),
        "acked": entry.acked_at_ms is not None,
        "violated": entry.violated,
    }  # fmt: skip
