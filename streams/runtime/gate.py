"""The gate's record handling: decode, validate, route, apply or decide, write, count.

Synchronous on purpose: between reading an address's table value and writing it back there is no
`await`, so agents sharing the table cannot interleave on one address. Every failure path ends in a
dead letter with where the record came from, and an intent whose id is readable always gets a
verdict: the gate never allows what it cannot check, and never skips silently.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from streams import topics
from streams.metrics import Children, GateMetrics
from streams.policy.config import PolicyConfig
from streams.policy.deliveries import outcome_header
from streams.policy.engine import intent_digest, invalid_verdict, unchecked_verdict
from streams.policy.errors import InvalidRecord
from streams.policy.jurisdictions import table_for
from streams.policy.pseudonym import Pseudonyms
from streams.policy.reasons import GATE_ERROR, STATE_NOT_CURRENT
from streams.policy.records import (
    ConsentRecord,
    OptOutRecord,
    PartnerRecord,
    SendIntent,
    Verdict,
    parse_record,
    violation_for,
)
from streams.policy.state import Agreements, apply
from streams.runtime import erasure, late_optouts, ledger
from streams.runtime.log_budget import LogBudget
from streams.runtime.ordering import HoldResult
from streams.runtime.outputs import Outputs
from streams.runtime.statestore import StateStore
from streams.runtime.stored import MemoEntry, Stored, decode_stored, encode_stored
from streams.serdes import DecodeError, RegistryUnavailableError, SerdesError, WireCodec

log = logging.getLogger(__name__)

KIND_OF_TOPIC = {
    topics.CONSENT.base: "consent",
    topics.OPTOUT.base: "optout",
    topics.PARTNER.base: "partner",
    topics.INTENTS.base: "intent",
}
# Dead letters carry the original bytes, up to this much; a larger record keeps its head.
DEAD_LETTER_MAX_VALUE = 256 * 1024
# Warnings about dead letters: at most this many per window, then one line saying how many were
# left out (log_budget.py); the metric and the topic keep every one.
DEAD_LETTER_LOG_BURST = 20
DEAD_LETTER_LOG_WINDOW_S = 10.0


class AgreementSource(Protocol):
    current: Agreements


@dataclass(frozen=True, slots=True)
class Inbound:
    """One Kafka record as received: raw bytes and where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float  # seconds; broker append time on send-intents
    headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None = None  # as faust gives them


def received_at(msg: Inbound) -> datetime:
    """When the gate received a record: its broker timestamp (the append time on topics that use
    LogAppendTime), or now when the record has none."""
    if msg.timestamp and msg.timestamp > 0:
        return datetime.fromtimestamp(msg.timestamp, UTC)
    return datetime.now(UTC)


class Gate:
    """Applies state records and decides intents for the partitions this worker owns."""

    def __init__(
        self,
        *,
        codec: WireCodec,
        store: StateStore,
        agreements: AgreementSource,
        outputs: Outputs,
        metrics: GateMetrics,
        config: PolicyConfig,
        names: dict[str, str],
        pseudonyms: Pseudonyms | None = None,
    ) -> None:
        self.codec = codec
        self.pseudonyms = pseudonyms  # recipient_ref on verdicts, violations, ledger entries
        self.store = store
        self.agreements = agreements
        self.outputs = outputs
        self.metrics = metrics
        self.config = config
        self.table = table_for(config)  # an override table's jurisdictions are valid here too
        self._verdicts = Children(metrics.verdicts)
        self._violations = Children(metrics.violations)
        self._applied = Children(metrics.records_applied)
        self._optouts = Children(metrics.optouts)
        self.base_of = {name: base for base, name in names.items()}
        self._dead_letter_log = LogBudget(DEAD_LETTER_LOG_BURST, DEAD_LETTER_LOG_WINDOW_S)

    # ---------------------------------------------------------------- state records

    def apply_state_record(self, spec: topics.TopicSpec, msg: Inbound) -> None:
        """Consent and opt-out records: into the table, or a dead letter."""
        try:
            record = self.read(spec, msg)
            if record is None:
                return
            assert isinstance(record, ConsentRecord | OptOutRecord)
            if self._misrouted(spec, msg, record.address):
                return
            ledger.write_entry(self, msg, record)  # proof of consent, in this batch
            key = record.address.encode()
            stored = self._load(msg.partition, key)
            state = apply(stored.state, record, self.config, received_at=received_at(msg))
            kind = record.action if isinstance(record, ConsentRecord) else "optout"
            if state == stored.state:
                self._applied(spec.base, kind, "duplicate").inc()
                if isinstance(record, OptOutRecord):  # re-sent, uncounted (late_optouts.py)
                    late_optouts.report(self, stored, record, counted=False)
                return
            self.store.put(msg.partition, key, encode_stored(stored.with_state(state)))
            self._applied(spec.base, kind, "applied").inc()
            if isinstance(record, OptOutRecord):
                self._optouts(record.channel, record.method).inc()
                late_optouts.report(self, stored, record)  # issue 15 §5
        except RegistryUnavailableError:
            raise  # the agent waits for the registry; nothing is dead-lettered for an outage
        except Exception as exc:  # a bug must not stop the partition: dead-letter and go on
            log.exception("unexpected error on %s[%d]@%d", msg.topic, msg.partition, msg.offset)
            self.metrics.processing_errors.labels(spec.base).inc()
            error_class = exc.error_class if isinstance(exc, SerdesError) else "internal_error"
            self._dead_letter(msg, error_class, f"{type(exc).__name__}: {exc}", None)

    def check_partner(self, msg: Inbound) -> None:
        """Partner agreements: the view applies them; here bad ones become dead letters."""
        try:
            record = self.read(topics.PARTNER, msg)
            if isinstance(record, PartnerRecord):
                ledger.write_entry(self, msg, record)
                self.metrics.records_applied.labels(
                    topics.PARTNER.base, record.agreement, "applied"
                ).inc()
        except RegistryUnavailableError:
            raise
        except Exception as exc:
            log.exception("unexpected error on %s[%d]@%d", msg.topic, msg.partition, msg.offset)
            self.metrics.processing_errors.labels(topics.PARTNER.base).inc()
            self._dead_letter(msg, "internal_error", f"{type(exc).__name__}: {exc}", None)

    # ---------------------------------------------------------------- intents

    def decide_intent(self, msg: Inbound, hold: HoldResult) -> None:
        """One intent: a verdict (and a violation when denied), whatever happens."""
        self.metrics.ordering_hold.observe(hold.waited_s)
        decoded: dict[str, Any] = {}
        try:
            try:
                decoded = self._decode(topics.INTENTS, msg.value)
            except DecodeError as exc:
                self._dead_letter(msg, exc.error_class, str(exc), None)
                return
            try:
                intent = parse_record(decoded, kind="intent", table=self.table)
                assert isinstance(intent, SendIntent)
            except InvalidRecord as exc:
                self._dead_letter(msg, "invalid_record", str(exc), exc.record_id)
                if exc.record_id:
                    self._emit(
                        msg, invalid_verdict(exc.record_id, exc, self.config, decoded), decoded
                    )
                return
            if self._misrouted(topics.INTENTS, msg, intent.address):
                return
            self._decide_valid(msg, intent, decoded, hold)
        except RegistryUnavailableError:
            raise
        except Exception as exc:  # fail closed: a deny for any intent whose id we can read
            log.exception("unexpected error on %s[%d]@%d", msg.topic, msg.partition, msg.offset)
            self.metrics.processing_errors.labels(topics.INTENTS.base).inc()
            intent_id = decoded.get("id") if isinstance(decoded.get("id"), str) else None
            error_class = exc.error_class if isinstance(exc, SerdesError) else "internal_error"
            self._dead_letter(msg, error_class, f"{type(exc).__name__}: {exc}", intent_id)
            if intent_id:
                detail = "the gate could not evaluate this intent"
                verdict = unchecked_verdict(intent_id, GATE_ERROR, detail, self.config, decoded)
                self._emit(msg, verdict, decoded)

    def _decide_valid(
        self, msg: Inbound, intent: SendIntent, decoded: dict[str, Any], hold: HoldResult
    ) -> None:
        key = intent.address.encode()
        stored = self._load(msg.partition, key)
        digest = intent_digest(intent)
        remembered = stored.recall(intent.id)
        if remembered is not None and remembered.digest in (None, digest):
            # reprocessed: the verdict already written stands
            self._emit(msg, self._from_memo(intent, decoded, remembered), intent)
            return
        if remembered is not None:  # the id of an earlier intent, with other content
            problem = "intent id already used by an intent with other content"
            self._dead_letter(msg, "reused_id", problem, intent.id)
            self._emit(msg, invalid_verdict(intent.id, problem, self.config, decoded), intent)
            return
        if hold.caught_up:
            decision = erasure.decide(self, msg.partition, intent, stored.state)  # §6 markers
            verdict, new_state = decision.verdict, decision.new_state or stored.state
        else:
            self.metrics.ordering_timeouts.inc()
            detail = "consent and opt-out partitions did not catch up in time"
            verdict = unchecked_verdict(intent.id, STATE_NOT_CURRENT, detail, self.config, decoded)
            new_state = stored.state
        remembered_now = stored.with_state(new_state).remember_verdict(verdict, intent, digest)
        self.store.put(msg.partition, key, encode_stored(remembered_now))
        self._emit(msg, verdict, intent)

    def _from_memo(self, intent: SendIntent, decoded: dict[str, Any], entry: MemoEntry) -> Verdict:
        """The verdict written before, field for field (an entry of an older memo format knows
        only decision, reasons and time: the rest is echoed from the intent as given)."""
        if entry.repeats_exactly:
            return entry.verdict()
        fresh = invalid_verdict(intent.id, "", self.config, decoded)
        return dataclasses.replace(
            fresh,
            decision=entry.decision,
            reason=entry.reason,
            reasons=entry.reasons,
            rules_evaluated=(),
            decided_at=datetime.fromtimestamp(entry.decided_at_ms / 1000, UTC),
            detail=None,
            policy_version=entry.policy_version,
        )

    def _emit(self, msg: Inbound, verdict: Verdict, source: SendIntent | dict[str, Any]) -> None:
        verdict = ledger.with_recipient_ref(verdict, source, self.pseudonyms)
        channel = verdict.channel if verdict.channel in _CHANNELS else "unknown"
        self._verdicts(verdict.decision, verdict.reason, channel).inc()
        intent_time = msg.timestamp
        latency = self.metrics.decision_latency

        def on_ack(ack_time: float) -> None:
            latency.observe(max(0.0, ack_time - intent_time))

        key = verdict.id.encode()
        value = self.codec.encode(topics.VERDICTS, verdict.to_wire(), trusted=True)
        outcome = outcome_header(verdict)
        self.outputs.send(topics.VERDICTS, key, value, on_ack, [(topics.OUTCOME_HEADER, outcome)])
        violation = violation_for(verdict, source)
        if violation is not None:
            kind = GateMetrics.sender_kind(violation.sender or "", self.config.first_party)
            self._violations(violation.rule, kind).inc()
            self.outputs.send(
                topics.VIOLATIONS,
                key,
                self.codec.encode(topics.VIOLATIONS, violation.to_wire(), trusted=True),
            )

    # ---------------------------------------------------------------- helpers

    def _decode(self, spec: topics.TopicSpec, value: bytes | None) -> dict[str, Any]:
        """Decode; `RegistryUnavailableError` propagates: the agent waits for the registry and
        handles the batch again (a record is never dead-lettered for an outage)."""
        return self.codec.decode(spec, value)

    def read(
        self,
        spec: topics.TopicSpec,
        msg: Inbound,
        kind: str | None = None,
        *,
        repaired: str | None = "applied",
    ) -> Any:
        """Decode and validate a record of `kind` (default: the topic's), or dead-letter it and
        return None. A record used after repair is counted and copied to dead letters as
        "`repaired` after repair: ..." (an opt-out is never lost to formatting; the copy says
        what was fixed); `repaired=None` where repairs are the record's own business."""
        try:
            decoded = self._decode(spec, msg.value)
        except DecodeError as exc:
            self._dead_letter(msg, exc.error_class, str(exc), None)
            return None
        try:
            record = parse_record(
                decoded,
                kind=kind or KIND_OF_TOPIC[spec.base],
                received_at=received_at(msg),
                table=self.table,
            )
        except InvalidRecord as exc:
            self._dead_letter(msg, "invalid_record", str(exc), exc.record_id)
            return None
        repairs = getattr(record, "repairs", ())
        if repairs and repaired is not None:
            self.metrics.records_repaired.labels(spec.base).inc()
            problem = f"{repaired} after repair: " + "; ".join(repairs)
            self._dead_letter(msg, "repaired", problem, record.id)
        return record

    def _misrouted(self, spec: topics.TopicSpec, msg: Inbound, address: str) -> bool:
        """A record keyed other than by its normalized address goes to its recipient's partition."""
        expected = address.encode()
        if msg.key == expected:
            return False
        if msg.value is not None:
            self.outputs.send(spec, expected, msg.value)
        self.metrics.records_applied.labels(spec.base, "reroute", "rerouted").inc()
        log.debug(
            "re-routed %s[%d]@%d to its recipient's key", msg.topic, msg.partition, msg.offset
        )
        return True

    def _load(self, partition: int, key: bytes) -> Stored:
        return decode_stored(self.store.get(partition, key))

    def _dead_letter(
        self, msg: Inbound, error_class: str, error: str, record_id: str | None
    ) -> None:
        base = self.base_of.get(msg.topic, msg.topic)
        self.metrics.dead_letters.labels(base, error_class).inc()
        value = msg.value
        if value is not None and len(value) > DEAD_LETTER_MAX_VALUE:
            error = f"{error} (value truncated from {len(value)} bytes)"
            value = value[:DEAD_LETTER_MAX_VALUE]
        letter = {
            "id": f"{msg.topic}:{msg.partition}:{msg.offset}",
            "at": datetime.now(UTC),
            "source_topic": msg.topic,
            "source_partition": msg.partition,
            "source_offset": msg.offset,
            "source_line": None,
            "key": msg.key[:DEAD_LETTER_MAX_VALUE] if msg.key else msg.key,
            "value": value,
            "error": error[:4096],
            "error_class": error_class,
            "record_id": record_id,
        }
        try:
            encoded = self.codec.encode(topics.DEAD_LETTERS, letter)
        except SerdesError:  # never let the error path raise: keep the record's coordinates
            log.exception("cannot encode the dead letter for %s", letter["id"])
            letter.update(key=None, value=None, error=f"{error_class}: unencodable dead letter")
            encoded = self.codec.encode(topics.DEAD_LETTERS, letter)
        self.outputs.send(topics.DEAD_LETTERS, msg.key, encoded)
        may_log, left_out = self._dead_letter_log.take()
        if not may_log:
            return
        if left_out:
            log.warning(
                "%d more dead letters were not logged (over %d a window; each is counted in "
                "consentgate_dead_letters_total and kept on the dead-letters topic)",
                left_out,
                DEAD_LETTER_LOG_BURST,
            )
        log.warning(
            "dead letter from %s[%d]@%d: %s (%s)",
            msg.topic,
            msg.partition,
            msg.offset,
            error_class,
            record_id or "no readable id",
        )

    def refresh_gauges(self, size: Callable[[], int]) -> None:
        """`size` counts the table (cheaply: never by visiting every key)."""
        try:
            self.metrics.consent_records.set(size())
        except Exception:  # a store that cannot count must not break the timer
            log.debug("consent record count unavailable", exc_info=True)


_CHANNELS = frozenset({"email", "sms", "mms", "voice", "whatsapp", "fax", "social_dm", "post"})
