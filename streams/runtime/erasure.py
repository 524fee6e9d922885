"""Erasure on Kafka (issue 15 §6): `consentgate erase` requests, applied in the recipient's
partition, and the marker check of every intent.

The `erasure` agent (`add_erasure_agent`, called once from `create_app`) reads
`erasure-requests` (keyed by the normalized address, co-partitioned with the recipient topics;
a request keyed otherwise is re-routed first) and, for each request, in one durable batch:

- deletes the recipient's value from the `recipients` table (state and verdict memo): a
  tombstone in the changelog, so compaction drops it and a rebuild never sees it;
- puts the erasure marker (policy/erasure.py) in the same table and partition, under
  `\\x00erased:` + the address's pseudonym under the current key;
- writes the audit entry to the ledger: key `erasure:<request id>`, kind `erasure`, the
  pseudonym, never the address (schemas/README.md, "Erasure").

Requests are read strictly: one whose address does not normalize is dead-lettered and erases
nothing. Without pseudonym keys (a test gate) no marker can be kept: the request is
dead-lettered rather than applied half.

Who tombstones the ledger entries: `consentgate erase`, not this agent. The ledger is keyed by
record id, so finding a person's entries means reading the whole topic, which the CLI does as
`consentgate audit` does; the worker would need an index by person, itself a list of addresses.

Intents (`decide`, called by the gate): the marker is looked up under the address's pseudonym
under every configured key, so rotating keys un-erases no one; one found under an older key is
copied under the current key, so dropping the old key later keeps it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from streams import topics
from streams.policy import engine
from streams.policy.config import PolicyConfig
from streams.policy.engine import Decision
from streams.policy.erasure import (
    OPTOUT_PREFIX,
    ErasureMarker,
    decode_marker,
    effective_ms,
    encode_marker,
    erased_view,
    kept,
    mark,
    marker_key,
)
from streams.policy.pseudonym import Pseudonyms
from streams.policy.records import ErasureRecord, SendIntent
from streams.policy.state import RecipientState
from streams.policy.times import from_epoch_ms
from streams.runtime.statestore import StateStore
from streams.runtime.stored import decode_stored
from streams.serdes import RegistryUnavailableError, SerdesError

if TYPE_CHECKING:
    from streams.runtime.app import WorkerApp
    from streams.runtime.gate import Gate, Inbound

log = logging.getLogger(__name__)

BATCH_SIZE = 200
ACTION = "erase"
UNREADABLE_AT = "at unreadable: from when the gate received it"


# ---------------------------------------------------------------- intents


def lookup(
    store: StateStore, partition: int, address: str, pseudonyms: Pseudonyms | None
) -> ErasureMarker | None:
    """The erasure marker of `address`, under any configured key (module doc)."""
    if pseudonyms is None:
        return None
    refs = pseudonyms.refs(address)
    for index, ref in enumerate(refs):
        data = store.get(partition, marker_key(ref))
        if data is None:
            continue
        marker = decode_marker(data)  # unreadable: raises, and the gate denies GATE_ERROR
        if index:
            store.put(partition, marker_key(refs[0]), data)
        return marker
    return None


def decide(gate: Gate, partition: int, intent: SendIntent, state: RecipientState) -> Decision:
    """`engine.decide` for an intent, on the erased view when its recipient was erased."""
    agreements, config, pseudonyms = gate.agreements.current, gate.config, gate.pseudonyms
    marker = lookup(gate.store, partition, intent.address, pseudonyms)
    ref = None if pseudonyms is None else pseudonyms.ref(intent.address)  # as lookup's, cached
    if marker is None:
        return engine.decide(intent, state, agreements, config, recipient_ref=ref)
    return decide_erased(intent, state, marker, agreements, config, ref)


def decide_erased(
    intent: SendIntent,
    state: RecipientState,
    marker: ErasureMarker,
    agreements: Any,
    config: PolicyConfig,
    recipient_ref: str | None = None,
) -> Decision:
    view = erased_view(state, marker, intent.channel, config)
    decision = engine.decide(intent, view, agreements, config, recipient_ref=recipient_ref)
    if decision.new_state is None:
        return decision
    return Decision(decision.verdict, kept(decision.new_state, view, state))


# ---------------------------------------------------------------- requests


class Erasures:
    """Applies erasure requests for one worker (module doc)."""

    def __init__(self, ga: WorkerApp) -> None:
        self.ga = ga

    def apply(self, msg: Inbound) -> None:
        gate = self.ga.gate
        try:
            record = self._read(msg)
            if record is None or gate._misrouted(topics.ERASURES, msg, record.address):
                return
            pseudonyms = gate.pseudonyms
            if pseudonyms is None:
                problem = "no pseudonym key: the erasure marker cannot be kept"
                gate._dead_letter(msg, "internal_error", problem, record.id)
                return
            from streams.runtime.gate import received_at  # gate imports this module

            received = received_at(msg)
            at_ms = effective_ms(record.at, received)
            store, partition = self.ga.store, msg.partition
            key = record.address.encode()
            try:
                erased = decode_stored(store.get(partition, key)).state
            except ValueError:  # an unreadable value is erased all the same
                erased = None
            existing = lookup(store, partition, record.address, pseudonyms)
            marker = mark(existing, at_ms, record.id, erased)
            ref = pseudonyms.ref(record.address)
            store.delete(partition, key)
            store.put(partition, marker_key(ref), encode_marker(marker))
            entry = audit_entry(record, at_ms, received, ref, (msg.topic, partition, msg.offset))
            value = gate.codec.encode(topics.LEDGER, entry)
            self.ga.outputs.send(topics.LEDGER, entry["id"].encode(), value)
            self.ga.metrics.erasures.inc()
            gate.metrics.records_applied.labels(topics.ERASURES.base, ACTION, "applied").inc()
            log.info("erasure %s applied (recipient %s)", record.id, ref)
        except RegistryUnavailableError:
            raise
        except Exception as exc:  # a bug must not stop the partition: dead-letter and go on
            log.exception("unexpected error on %s[%d]@%d", msg.topic, msg.partition, msg.offset)
            gate.metrics.processing_errors.labels(topics.ERASURES.base).inc()
            error_class = exc.error_class if isinstance(exc, SerdesError) else "internal_error"
            gate._dead_letter(msg, error_class, f"{type(exc).__name__}: {exc}", None)

    def _read(self, msg: Inbound) -> ErasureRecord | None:
        # Read strictly; what was repaired (an unreadable `at`) goes into the audit entry.
        record = self.ga.gate.read(topics.ERASURES, msg, ErasureRecord.KIND, repaired=None)
        assert record is None or isinstance(record, ErasureRecord)
        return record


def audit_entry(
    record: ErasureRecord,
    at_ms: int,
    received: datetime,
    ref: str,
    source: tuple[str, int, int],
) -> dict[str, Any]:
    """The ledger's record of an erasure: who was erased (pseudonym), when, by whose request,
    where it was read. Never the address (schemas/README.md, "Erasure")."""
    said = {"requested_by": record.requested_by, "reason": record.reason}
    evidence = {k: v for k, v in said.items() if v is not None} or None
    topic, partition, offset = source
    return {
        "id": OPTOUT_PREFIX + record.id,
        "kind": ErasureRecord.KIND,
        "record_id": record.id,
        "at": from_epoch_ms(at_ms),
        "received_at": received,
        "channel": record.channel,
        "address": None,
        "recipient_ref": ref,
        "party": None,
        "action": ACTION,
        "purpose": None,
        "basis": None,
        "method": None,
        "jurisdiction": record.jurisdiction,
        "expires": None,
        "evidence": evidence,
        "repairs": [] if record.at is not None else [UNREADABLE_AT],
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
    }


def add_erasure_agent(ga: WorkerApp) -> Erasures:
    """Wire the erasure topic and agent into `ga` (module doc)."""
    from streams.runtime.app import batch_agent, inbound

    topic = ga.app.topic(
        ga.names[topics.ERASURES.base], key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=None, internal=False,
    )  # fmt: skip
    erasures = Erasures(ga)

    def apply_erasures(events: list[Any]) -> None:
        with ga.outputs.batch(ga.acknowledge(events)):
            for event in events:
                erasures.apply(inbound(event.message))
            ga.store.flush()
        for event in events:
            message = event.message
            ga.positions.advance((message.topic, message.partition), message.offset)

    body = batch_agent(
        "erasure", BATCH_SIZE, topics.ERASURES, apply_erasures,
        codec=ga.gate.codec, metrics=ga.metrics, discard=ga.store.discard, acks=ga.acks,
    )  # fmt: skip
    ga.agents["erasure"] = ga.app.agent(topic, name="erasure")(body)
    return erasures
