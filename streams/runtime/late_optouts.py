"""Late opt-outs on Kafka (issue 15 §5): when an opt-out (or a complaint, which is one) changes a
recipient's state, the intents in that recipient's verdict memo that it would have denied each
get a `LATE_OPTOUT` violation on `violations`, keyed by the intent id.

The decision is `policy.late_optouts` (pure); this module only sends what it returns and counts
it. Called in the batch that applies the opt-out, after the state change; the violations are sent
before the batch's changelog record. A redelivered opt-out that changes nothing is checked again
and its violations sent again, uncounted, with the same ids (consumers deduplicate by `id`): a
worker killed after Kafka took the changelog record but before it took the violation (the input
is not acknowledged until both are) comes back with the opt-out applied, and must still send it.
Only the memo's newest 32 verdicts per address are there to be matched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from streams import topics
from streams.metrics import GateMetrics
from streams.policy.late_optouts import late_optouts
from streams.policy.records import OptOutRecord
from streams.runtime.stored import Stored

if TYPE_CHECKING:
    from streams.runtime.gate import Gate

log = logging.getLogger(__name__)


def report(gate: Gate, stored: Stored, optout: OptOutRecord, *, counted: bool = True) -> int:
    """Send the LATE_OPTOUT violations `optout` raises against `stored`'s memo (the value it was
    applied to); how many. Never raises: the opt-out is applied already, and a failure here
    (a memo that does not read, say) must not dead-letter it; it is logged and counted as a
    processing error instead."""
    try:
        return _report(gate, stored, optout, counted)
    except Exception:
        log.exception("could not check opt-out %s for late opt-outs", optout.id)
        gate.metrics.processing_errors.labels(topics.OPTOUT.base).inc()
        return 0


def _report(gate: Gate, stored: Stored, optout: OptOutRecord, counted: bool) -> int:
    memo = stored.memo
    if not memo:
        return 0
    ref = None if gate.pseudonyms is None else gate.pseudonyms.ref(optout.address)
    found = late_optouts(memo, optout, gate.config, recipient_ref=ref)
    for violation in found:
        value = gate.codec.encode(topics.VIOLATIONS, violation.to_wire(), trusted=True)
        gate.outputs.send(topics.VIOLATIONS, violation.intent_id.encode(), value)
        if not counted:
            continue
        kind = GateMetrics.sender_kind(violation.sender or "", gate.config.first_party)
        gate.metrics.violations.labels(violation.rule, kind).inc()
        gate.metrics.late_optouts.inc()
        log.warning(
            "opt-out %s is dated before intent %s, which was already allowed: LATE_OPTOUT",
            optout.id,
            violation.intent_id,
        )
    return len(found)
