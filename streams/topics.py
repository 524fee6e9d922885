"""The one topic registry: every topic consentgate reads or writes, its key and its value schema.

Nothing else in the code base spells a topic name. Tests and several gates on one cluster give a
prefix (`Settings.topic_prefix`), and every name follows from it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Consent, opt-outs and agreements are the gate's source of truth: a rebuild (a new worker, a lost
# store, a replaced changelog) replays them from the start, so they are kept forever
# (docs/operations.md, "Durable topics").
FOREVER = -1


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its base name, what its key is, and the Avro schema of its values."""

    base: str
    key: str
    schema: str
    recipient_keyed: bool = False
    compacted: bool = False
    # retention.ms: None keeps the broker's default (7 days unless changed); -1 keeps forever.
    retention_ms: int | None = None
    # Broker time (LogAppendTime) rather than the producer's: latency is measured from it.
    log_append_time: bool = False
    doc: str = ""

    def name(self, prefix: str = "") -> str:
        return f"{prefix}{self.base}"


CONSENT = TopicSpec(
    "consent-events",
    key="normalized address (UTF-8)",
    schema="consent",
    recipient_keyed=True,
    retention_ms=FOREVER,
    doc="Consent grants and confirmations, from connectors.",
)
OPTOUT = TopicSpec(
    "optout-events",
    key="normalized address (UTF-8)",
    schema="optout",
    recipient_keyed=True,
    retention_ms=FOREVER,
    doc="Opt-outs, from connectors.",
)
PARTNER = TopicSpec(
    "partner-agreements",
    key="party id (UTF-8)",
    schema="partner",
    compacted=True,
    retention_ms=FOREVER,
    doc="Signed and revoked partner agreements, from admin tooling.",
)
INTENTS = TopicSpec(
    "send-intents",
    key="normalized address (UTF-8)",
    schema="intent",
    recipient_keyed=True,
    log_append_time=True,
    doc="Messages about to go out, from upstream producers.",
)
VERDICTS = TopicSpec(
    "verdicts",
    key="intent id (UTF-8)",
    schema="verdict",
    doc="One allow or deny per intent; the delivery side reads it.",
)
# Every verdict also carries what the delivery reconciler needs of it in this header (a JSON
# array: policy/deliveries.encode_outcome), so the reconciler, which reads every verdict back,
# does not decode the Avro value. The value stays the record of the decision; a verdict without
# the header (an older gate's) is decoded as before.
OUTCOME_HEADER = "consentgate-outcome"
VIOLATIONS = TopicSpec(
    "violations",
    key="intent id (UTF-8)",
    schema="violation",
    doc="One record per denied intent, for the compliance team.",
)
DEAD_LETTERS = TopicSpec(
    "dead-letters",
    key="source key, as received",
    schema="dead_letter",
    doc="What could not be decoded or validated, with where it came from.",
)

LEDGER = TopicSpec(
    "ledger",
    key="kind:record id (UTF-8)",
    schema="ledger_entry",
    compacted=True,
    retention_ms=FOREVER,
    doc="Proof of consent: every consent, opt-out and agreement record with its evidence, kept "
    "as long as the recipient has state plus 5 years (erasure tombstones it; schemas/README.md).",
)

# Complaints (issue 15 §4; streams/runtime/complaints.py). A complaint is an opt-out, so it is
# keyed and co-partitioned like one; the worker forwards it, keyed by its id, to complaints-open,
# co-partitioned with complaint-acks (keyed by the complaint's id): the open complaint and its ack
# meet in one partition, where the deadline is tracked. Kept forever, like the other sources of
# truth: a rebuild replays them.
COMPLAINTS = TopicSpec(
    "complaints",
    key="normalized address (UTF-8)",
    schema="complaint",
    recipient_keyed=True,
    retention_ms=FOREVER,
    doc="Complaints about unsolicited messages; each is also an opt-out.",
)
COMPLAINTS_OPEN = TopicSpec(
    "complaints-open",
    key="complaint id (UTF-8)",
    schema="complaint",
    compacted=True,
    retention_ms=FOREVER,
    doc="Every complaint, re-keyed by its id by the gate, to meet its acknowledgement.",
)
COMPLAINT_ACKS = TopicSpec(
    "complaint-acks",
    key="complaint id (UTF-8)",
    schema="complaint_ack",
    retention_ms=FOREVER,
    doc="The DPO's acknowledgements of complaints (due within 5 business days).",
)
COMPLAINT_TOPICS: tuple[TopicSpec, ...] = (COMPLAINTS, COMPLAINTS_OPEN, COMPLAINT_ACKS)

# Delivery reconciliation (issue 15 §5; streams/runtime/deliveries.py): what the delivery side
# reports it sent, keyed like the verdicts (intent id, murmur2) and created with the same
# partition count, so an intent's verdict and its deliveries meet in one partition.
DELIVERIES = TopicSpec(
    "deliveries",
    key="intent id (UTF-8)",
    schema="delivery",
    doc="What the delivery side reports it sent; reconciled against the verdicts.",
)
# Erasure (issue 15 §6; streams/runtime/erasure.py): requests from `consentgate erase`, keyed
# and co-partitioned like the other recipient topics. They carry the address, so they are kept
# only as long as a stopped worker may need to catch up (7 days), not forever.
ERASURES = TopicSpec(
    "erasure-requests",
    key="normalized address (UTF-8)",
    schema="erasure",
    recipient_keyed=True,
    retention_ms=7 * 24 * 3600 * 1000,
    doc="Requests to erase a person's consent state and ledger entries.",
)

ALL: tuple[TopicSpec, ...] = (
    CONSENT, OPTOUT, PARTNER, INTENTS, VERDICTS, VIOLATIONS, DEAD_LETTERS, LEDGER,
    *COMPLAINT_TOPICS, DELIVERIES, ERASURES,
)  # fmt: skip
RECIPIENT_TOPICS: tuple[TopicSpec, ...] = tuple(t for t in ALL if t.recipient_keyed)
INPUTS: tuple[TopicSpec, ...] = (CONSENT, OPTOUT, PARTNER, INTENTS)
OUTPUTS: tuple[TopicSpec, ...] = (VERDICTS, VIOLATIONS, DEAD_LETTERS, LEDGER)

BY_BASE: dict[str, TopicSpec] = {t.base: t for t in ALL}

# The `type` of a record in a scenario file, and the topic it travels on.
TOPIC_OF_RECORD_TYPE: dict[str, TopicSpec] = {
    "consent": CONSENT,
    "optout": OPTOUT,
    "partner": PARTNER,
    "intent": INTENTS,
    "complaint": COMPLAINTS,
    "complaint_ack": COMPLAINT_ACKS,
    "erasure": ERASURES,
    "delivery": DELIVERIES,  # keyed by its intent id (connectors/producer.record_key)
}
