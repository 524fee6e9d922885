"""The contract's records as typed, frozen values, and the one validator that builds them.

`parse_record` accepts what JSON lines and fastavro give: `at`/`expires` as ISO-8601 text or aware
datetimes. Addresses and party ids come out canonical (addresses.py, docs/recipients.md). Unknown
extra fields are tolerated and dropped, so producers may add fields. Consent `basis` is one of
express, implied_purchase, implied_inquiry, soft_opt_in (absent or null: express). Anything wrong
raises InvalidRecord naming the field, quoting input only as a short escaped excerpt.

**Fail closed, both ways (issue 11 §3).** A record that would *permit* (a grant, a confirm, a
`signed` agreement) or *ask* (an intent) is read strictly: anything malformed refuses it (an intent
is then denied INVALID_INTENT). A record that *restricts* (an opt-out, a `revoked` agreement) is
applied whenever its recipient can be read (channel and address; for a revocation, the party),
whatever else is wrong with it, because dead-lettering it would let marketing go on:
- a naive, epoch-number, leap-second, out-of-range or missing `at`: `at` is None, meaning "from
  when the gate received it" (`effective_at(record, received_at)`; or pass `received_at` to
  parse_record and `at` is that instant);
- `channel` in another case or an alias (`SMS`, `E-mail`, `text`); `jurisdiction` in another
  case or alpha-3 (`usa`, `USA`), or unreadable when the address reads without it (then None);
- an unknown or missing `method` (recorded as `other`); an unreadable opt-out `party` (the opt-out
  then covers every party); a leading byte-order mark on any text field; a missing `id` (one is
  derived from the content, `unidentified-<hash>`); an unreadable `expires` on a revocation;
- `type` spelled in another case (`OptOut`, `opt-out`).
Every such repair is listed, in words, in the record's `repairs` (empty for a clean record): the
runtime counts them and sends a dead-letter copy of the original with them as the problem.

Size limits (issue 11 §5; over them the record is invalid): MAX_ID_CHARS, MAX_TEXT_CHARS for
channel, category, method, jurisdiction, region and campaign, MAX_TIMEZONE_CHARS, MAX_SUBJECT_CHARS,
MAX_BODY_CHARS, MAX_EVIDENCE_ENTRIES and MAX_EVIDENCE_CHARS; addresses and party ids have theirs in
addresses.py and config.py. Counted in characters (code points), which bounds the UTF-8 bytes at 4x.

Declared fields cannot switch rules off (§6): an intent's `jurisdiction` must be an entry of the
jurisdiction table in force (pass `table`; default the shipped one) and its `region` an ISO 3166-2
subdivision of that country; neither ever means "no rules".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from streams.policy.addresses import CHANNELS, normalize_address
from streams.policy.config import canonical_party
from streams.policy.errors import InvalidAddress, InvalidRecord, excerpt
from streams.policy.jurisdictions import (
    JurisdictionTable,
    iso_country,
    iso_subdivision_country,
    shipped_table,
)
from streams.policy.quick_init import quick_init
from streams.policy.reasons import SEVERITY
from streams.policy.times import MAX_MS, epoch_ms, format_instant, parse_instant

PURPOSES: Final = frozenset({"marketing"})
CONSENT_ACTIONS: Final = frozenset({"grant", "confirm"})
BASES: Final = frozenset({"express", "implied_purchase", "implied_inquiry", "soft_opt_in"})
OPTOUT_METHODS: Final = frozenset(
    {
        "unsubscribe_link",
        "one_click",
        "sms_keyword",
        "reply",
        "phone",
        "dpo_request",
        "complaint",
        "other",
    }
)
AGREEMENTS: Final = frozenset({"signed", "revoked"})
CATEGORIES: Final = frozenset({"promotional", "transactional", "legal", "optout_confirmation"})

MAX_ID_CHARS: Final = 256
MAX_TEXT_CHARS: Final = 256
MAX_TIMEZONE_CHARS: Final = 64  # the longest IANA name is 32; bounds the quiet-hours cache keys
MAX_SUBJECT_CHARS: Final = 998  # RFC 5322's line limit
MAX_BODY_CHARS: Final = 256 * 1024  # a large HTML e-mail; sms bodies are a few hundred
MAX_EVIDENCE_ENTRIES: Final = 32
MAX_EVIDENCE_CHARS: Final = 2048  # per key and per value

# Spellings of a channel an opt-out is still read under (case and surrounding space aside).
CHANNEL_ALIASES: Final = {"e-mail": "email", "mail": "email", "text": "sms", "txt": "sms"}
_KIND_ALIASES: Final = {"optout": "optout", "opt-out": "optout", "opt_out": "optout",
                        "partner": "partner", "complaint": "complaint",
                        "complaint-ack": "complaint_ack", "complaintack": "complaint_ack",
                        "complaint_ack": "complaint_ack", "delivery": "delivery"}  # fmt: skip
MAX_COMPLAINT_TEXT_CHARS: Final = 64 * 1024  # a long letter; longer text is cut (a repair)
MAX_ERASURE_REASON_CHARS: Final = 1024  # a ticket reference and a sentence
CHANNEL_LIST: Final = tuple(sorted(CHANNELS))

_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_SUBDIVISION: Final = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
_BOM: Final = "\ufeff"


@quick_init
@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A `grant` or `confirm` of marketing consent to one party on one channel."""

    KIND: ClassVar[str] = "consent"
    id: str
    at: datetime
    channel: str
    address: str
    party: str
    purpose: str
    action: str
    evidence: Mapping[str, str]
    jurisdiction: str
    basis: str = "express"

    @property
    def at_ms(self) -> int:
        return epoch_ms(self.at)


@quick_init
@dataclass(frozen=True, slots=True)
class OptOutRecord:
    """An opt-out of one recipient from one party (`party` None: from every party).

    Read leniently (module doc): `at` None means "from when the gate received it" (see
    `effective_at`); `jurisdiction` None means it was missing or unreadable and the address read
    without it; `repairs` says what was wrong. (The method as given is not kept: every field here
    but `repairs` is a field of the optout-events schema, and that schema has none for it.)"""

    KIND: ClassVar[str] = "optout"
    id: str
    at: datetime | None
    channel: str
    address: str
    party: str | None
    method: str
    jurisdiction: str | None
    repairs: tuple[str, ...] = field(default=(), compare=False, metadata={"wire": False})

    @property
    def at_ms(self) -> int:
        """Epoch ms of `at`; for an unreadable one, MAX_MS (the strictest reading) until the
        caller applies `effective_at(record, received_at)` instead."""
        return MAX_MS if self.at is None else epoch_ms(self.at)


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    """A third party's written promise to send no unsolicited advertising (policy 4), or its end.
    A `revoked` one is read leniently (module doc): `at` None, `repairs` as for opt-outs."""

    KIND: ClassVar[str] = "partner"
    id: str
    at: datetime | None
    party: str
    agreement: str
    expires: datetime | None = None
    repairs: tuple[str, ...] = field(default=(), compare=False, metadata={"wire": False})

    @property
    def at_ms(self) -> int:
        """As OptOutRecord.at_ms: only a revocation can have no `at`."""
        return MAX_MS if self.at is None else epoch_ms(self.at)


@quick_init
@dataclass(frozen=True, slots=True)
class SendIntent:
    """A message about to go out, waiting for its verdict."""

    KIND: ClassVar[str] = "intent"
    id: str
    at: datetime
    channel: str
    address: str
    sender: str
    category: str
    has_opt_out: bool
    jurisdiction: str
    body: str | None = None
    timezone: str | None = None
    campaign: str | None = None
    region: str | None = None
    subject: str | None = None  # e-mail subject line (schema v3), for the content rules

    @property
    def at_ms(self) -> int:
        return epoch_ms(self.at)


@dataclass(frozen=True, slots=True)
class ComplaintRecord:
    """A complaint about unsolicited messages (issue 15 §4). It is also an opt-out of its
    recipient from `party` (None: every party), and the DPO owes it an acknowledgement within 5
    business days of the complainant's calendar (business_days.py, complaints.py).

    Read leniently, like an opt-out (module doc): whatever else is wrong, a complaint whose
    channel and address read is applied as an opt-out; `at` None means "from when the gate
    received it"; `jurisdiction` None, unreadable (the strictest calendar then applies);
    `repairs` says what was wrong. `region` (ISO 3166-2) picks the holiday subdivision and
    `timezone` (IANA) the local calendar day; both optional, dropped as a repair when wrong."""

    KIND: ClassVar[str] = "complaint"
    id: str
    at: datetime | None
    channel: str
    address: str
    party: str | None
    jurisdiction: str | None
    text: str | None = None
    region: str | None = None
    timezone: str | None = None
    repairs: tuple[str, ...] = field(default=(), compare=False, metadata={"wire": False})

    @property
    def at_ms(self) -> int:
        """As OptOutRecord.at_ms."""
        return MAX_MS if self.at is None else epoch_ms(self.at)

    def as_optout(self, received_at: datetime | None = None) -> OptOutRecord:
        """The opt-out this complaint is: same id, recipient, party and time, method
        `complaint`. `received_at` stands in for an unreadable `at`."""
        at = self.at if self.at is not None or received_at is None else _to_ms(received_at)
        return OptOutRecord(
            self.id, at, self.channel, self.address, self.party, "complaint", self.jurisdiction,
            self.repairs,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ComplaintAckRecord:
    """The DPO's acknowledgement of complaint `complaint_id`, at `at`. Read strictly, like a
    grant: it relieves the gate of a duty, so one that does not read is dead-lettered and the
    complaint stays open. `id` is the ack's own id (absent: `ack:<complaint_id>`); a record with
    no `complaint_id` names its complaint by `id`."""

    KIND: ClassVar[str] = "complaint_ack"
    id: str
    at: datetime
    complaint_id: str

    @property
    def at_ms(self) -> int:
        return epoch_ms(self.at)


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    """A request to erase one person (issue 15 §6; policy/erasure.py). Read strictly: it
    removes state, so an address that does not normalize (or a channel or jurisdiction that
    could make it normalize to someone else) refuses it. `at` None: from when received."""

    KIND: ClassVar[str] = "erasure"
    id: str
    at: datetime | None
    address: str
    channel: str
    jurisdiction: str | None = None
    requested_by: str | None = None
    reason: str | None = None

    @property
    def at_ms(self) -> int:
        """As OptOutRecord.at_ms."""
        return MAX_MS if self.at is None else epoch_ms(self.at)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """What the delivery side reports it sent for intent `intent_id` (issue 15 §5;
    deliveries.py reconciles it with the verdict). Evidence of a possible violation, so read
    leniently where that is safe: `at` None means "when the gate received it", a channel alias
    or case, an unreadable `sender` or `jurisdiction` (when the address reads without it) and a
    missing `id` are repairs listed in `repairs`. Refused (dead letter): an unreadable
    `intent_id` (taken exactly as given: it must equal the intent's id), channel or address."""

    KIND: ClassVar[str] = "delivery"
    id: str
    intent_id: str
    at: datetime | None
    channel: str
    address: str
    sender: str | None = None
    jurisdiction: str | None = None
    repairs: tuple[str, ...] = field(default=(), compare=False, metadata={"wire": False})


Record = (
    ConsentRecord | OptOutRecord | PartnerRecord | SendIntent | ComplaintRecord | ComplaintAckRecord
    | ErasureRecord | DeliveryRecord
)  # fmt: skip


def effective_at(record: Record, received_at: datetime) -> datetime:
    """When `record` takes effect: its `at`, or `received_at` (the gate's receipt time, which the
    caller knows: the Kafka record's timestamp, the replay's clock) where the `at` of an opt-out
    or a revocation was unreadable."""
    return record.at if record.at is not None else _to_ms(received_at)


@quick_init
@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer for one intent, keyed by the intent's id. `detail` says, for a deny that
    needs it (an invalid intent), what was wrong; channel, sender, category and intent_at echo the
    intent where it had them, for consumers and audit.

    The records it relied on (issue 15 §1), by id as the state keeps them (`state.short_id`):
    `grant_id` and `confirm_id` the consent that counted (or, denied, the latest candidate),
    `agreement_id` the partner record in force (or the revocation or expired record that
    denied), `optout_id` the covering opt-out (for a confirmation: the opt-out it confirms). None
    where the decision rested on no such record. `recipient_ref` is the recipient's keyed
    pseudonym (pseudonym.py), filled by the runtime and replay, never the address."""

    id: str
    decision: str
    reason: str
    reasons: tuple[str, ...]
    policy_version: str
    rules_evaluated: tuple[str, ...]
    decided_at: datetime
    detail: str | None = None
    channel: str | None = None
    sender: str | None = None
    category: str | None = None
    intent_at: datetime | None = None
    grant_id: str | None = None
    confirm_id: str | None = None
    agreement_id: str | None = None
    optout_id: str | None = None
    recipient_ref: str | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def named(self, recipient_ref: str | None) -> Verdict:
        """This verdict with `recipient_ref`: `dataclasses.replace` spelled out, as the hot path
        names every verdict and replace costs twice the constructor (a test holds the two equal
        over every field)."""
        return Verdict(
            self.id, self.decision, self.reason, self.reasons, self.policy_version,
            self.rules_evaluated, self.decided_at, self.detail, self.channel, self.sender,
            self.category, self.intent_at, self.grant_id, self.confirm_id, self.agreement_id,
            self.optout_id, recipient_ref,
        )  # fmt: skip

    def to_wire(self) -> dict[str, Any]:
        """Field values as Avro takes them (instants as aware datetimes)."""
        return {
            "id": self.id,
            "decision": self.decision,
            "reason": self.reason,
            "reasons": list(self.reasons),
            "policy_version": self.policy_version,
            "rules_evaluated": list(self.rules_evaluated),
            "decided_at": self.decided_at,
            "detail": self.detail,
            "channel": self.channel,
            "sender": self.sender,
            "category": self.category,
            "intent_at": self.intent_at,
            "grant_id": self.grant_id,
            "confirm_id": self.confirm_id,
            "agreement_id": self.agreement_id,
            "optout_id": self.optout_id,
            "recipient_ref": self.recipient_ref,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: instants as ISO-8601 text."""
        return _json_ready(self.to_wire())


@quick_init
@dataclass(frozen=True, slots=True)
class Violation:
    """What the compliance team sees for a denied intent: who tried what, which rule stopped it."""

    id: str
    intent_id: str
    sender: str | None
    channel: str | None
    rule: str
    severity: str
    at: datetime
    reasons: tuple[str, ...] = ()
    campaign: str | None = None
    policy_version: str | None = None
    recipient_ref: str | None = None
    # COMPLAINT_ACK_OVERDUE only (complaints.py): the complaint, and when its ack was due.
    complaint_id: str | None = None
    deadline: datetime | None = None
    # Delivery reconciliation and late opt-outs (issue 15 §5; violation v3, schemas/README.md).
    intent_at: datetime | None = None
    optout_id: str | None = None
    optout_at: datetime | None = None
    delivered_at: datetime | None = None
    delivered_ref: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """Field values as Avro takes them (instants as aware datetimes). The fields of a
        complaint's, a delivery's or a late opt-out's violation appear only when set, so other
        violations encode as before."""
        wire = self._intent_wire()
        if self.complaint_id is not None:
            wire["complaint_id"] = self.complaint_id
            wire["deadline"] = self.deadline
        for name in _V3_FIELDS:
            value = getattr(self, name)
            if value is not None:
                wire[name] = value
        return wire

    def _intent_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "intent_id": self.intent_id,
            "sender": self.sender,
            "channel": self.channel,
            "rule": self.rule,
            "severity": self.severity,
            "at": self.at,
            "reasons": list(self.reasons),
            "campaign": self.campaign,
            "policy_version": self.policy_version,
            "recipient_ref": self.recipient_ref,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: instants as ISO-8601 text."""
        return _json_ready(self.to_wire())


_V3_FIELDS = ("intent_at", "optout_id", "optout_at", "delivered_at", "delivered_ref")


def _json_ready(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: format_instant(v) if isinstance(v, datetime) else v for k, v in fields.items()}


def violation_for(verdict: Verdict, intent: SendIntent | Mapping[str, Any]) -> Violation | None:
    """The violation a denied verdict files (None for an allow): one per denied intent, about its
    decisive reason. `intent` may be the raw record of an invalid intent: what is readable is
    kept. `at` is the intent's (the verdict's time when unreadable) and the id is
    `{intent id}:{reason}`, so a reprocessed intent files the very same violation again."""
    if verdict.allowed:
        return None
    sender: str | None
    channel: str | None
    if isinstance(intent, SendIntent):
        sender, channel, campaign = intent.sender, intent.channel, intent.campaign
        at = intent.at
    else:
        sender = _text_or_none(intent.get("sender"))
        channel = _text_or_none(intent.get("channel"))
        campaign = _text_or_none(intent.get("campaign"))
        try:
            at = parse_instant(intent.get("at"), "at")
        except ValueError:
            at = verdict.decided_at
    return Violation(
        f"{verdict.id}:{verdict.reason}", verdict.id, sender, channel, verdict.reason,
        SEVERITY[verdict.reason], at, verdict.reasons, campaign, verdict.policy_version,
        verdict.recipient_ref,
    )  # fmt: skip


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) <= MAX_TEXT_CHARS else None


def parse_record(
    obj: Mapping[str, Any],
    *,
    kind: str | None = None,
    received_at: datetime | None = None,
    table: JurisdictionTable | None = None,
) -> Record:
    """Validate one JSON-like record. `kind` is its `type` (on Kafka, the topic tells it).
    `received_at`: when the gate received it, the `at` of an opt-out or revocation whose own is
    unreadable (None: left None, see effective_at). `table`: the jurisdiction table in force
    (default: the shipped one), which an intent's jurisdiction must be in."""
    if not isinstance(obj, Mapping):
        raise InvalidRecord(f"a record must be an object, got {type(obj).__name__}")
    raw_id = obj.get("id")
    record_id = (
        raw_id
        if isinstance(raw_id, str) and raw_id.strip() and len(raw_id) <= MAX_ID_CHARS
        else None
    )
    declared = obj.get("type")
    repairs: list[str] = []
    if kind is None:
        kind = declared
        if isinstance(kind, str) and kind not in _PARSERS:
            alias = _KIND_ALIASES.get(kind.strip().lstrip(_BOM).lower())
            if alias is not None:
                repairs.append(f"type {excerpt(kind)} read as {alias}")
                kind = alias
    elif declared is not None and declared != kind:
        raise InvalidRecord(f"type {excerpt(declared)} does not match {kind!r}", record_id, kind)
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise InvalidRecord(f"unknown record type {excerpt(kind)}", record_id)
    fields = _Fields(obj, table, received_at, repairs)
    try:
        if record_id is None and kind not in _LENIENT_KINDS:
            if isinstance(raw_id, str) and len(raw_id) > MAX_ID_CHARS:
                raise ValueError(f"id is {len(raw_id)} characters, over {MAX_ID_CHARS}")
            raise ValueError("id must be a non-empty string")
        return parser(fields, record_id)
    except InvalidAddress as exc:
        raise InvalidRecord(f"address: {exc.message}", record_id, kind) from None
    except ValueError as exc:
        raise InvalidRecord(str(exc), record_id, kind) from None


class _Fields:
    """Typed field access with messages that name the field (and quote only excerpts)."""

    __slots__ = ("obj", "received_at", "repairs", "table")

    def __init__(
        self,
        obj: Mapping[str, Any],
        table: JurisdictionTable | None = None,
        received_at: datetime | None = None,
        repairs: list[str] | None = None,
    ) -> None:
        self.obj = obj
        self.table = table
        self.received_at = received_at
        self.repairs: list[str] = [] if repairs is None else repairs

    def text(self, name: str, limit: int = MAX_TEXT_CHARS) -> str:
        value = self.obj.get(name)
        if value is None:
            raise ValueError(f"{name} is required")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string")
        if len(value) > limit:
            raise ValueError(f"{name} is {len(value)} characters, over the limit of {limit}")
        return value

    def optional_text(self, name: str, limit: int = MAX_TEXT_CHARS) -> str | None:
        return None if self.obj.get(name) is None else self.text(name, limit)

    def choice(self, name: str, allowed: frozenset[str]) -> str:
        value = self.text(name)
        if value not in allowed:
            raise ValueError(f"{name} {excerpt(value)} is not one of {', '.join(sorted(allowed))}")
        return value

    def party(self, name: str) -> str:
        value = self.obj.get(name)
        if value is None:
            raise ValueError(f"{name} is required")
        try:
            return canonical_party(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None

    def instant(self, name: str) -> datetime:
        value = self.obj.get(name)
        if value is None:
            raise ValueError(f"{name} is required")
        return parse_instant(value, name)

    def country(self, name: str = "jurisdiction") -> str:
        value = self.text(name).strip().upper()
        if not _COUNTRY.fullmatch(value):
            raise ValueError(f"{name} {excerpt(value)} is not an ISO 3166-1 alpha-2 code")
        return value

    def address(self, channel: str, jurisdiction: str | None) -> str:
        value = self.obj.get("address")
        if value is None:
            raise ValueError("address is required")
        return normalize_address(channel, value, jurisdiction)

    # -- the lenient readings of opt-outs and revocations (module doc)

    def strip_boms(self) -> None:
        """Drop a leading byte-order mark from every text field, as a repair."""
        cleaned = None
        for key, value in self.obj.items():
            if isinstance(value, str) and value.startswith(_BOM):
                cleaned = dict(self.obj) if cleaned is None else cleaned
                cleaned[key] = value.lstrip(_BOM)
                self.repairs.append(f"a byte-order mark before {excerpt(key)} removed")
        if cleaned is not None:
            self.obj = cleaned

    def lenient_channel(self) -> str:
        value = self.obj.get("channel")
        if not isinstance(value, str):
            raise ValueError("channel is required: without it the recipient cannot be read")
        folded = value.strip().lower()
        channel = CHANNEL_ALIASES.get(folded, folded)
        if channel not in CHANNELS:
            raise ValueError(
                f"channel {excerpt(value)} is not one of {', '.join(sorted(CHANNELS))}"
            )
        if channel != value:
            self.repairs.append(f"channel {excerpt(value)} read as {channel}")
        return channel

    def lenient_country(self) -> tuple[str | None, str | None]:
        """(the country, None) or (None, what is wrong with it)."""
        value = self.obj.get("jurisdiction")
        if value is None:
            return None, "jurisdiction missing"
        if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
            return None, "jurisdiction is not a short string"
        country = iso_country(value)
        if country is None:
            return None, f"jurisdiction {excerpt(value)} is not an ISO 3166-1 country"
        if country != value:
            self.repairs.append(f"jurisdiction {excerpt(value)} read as {country}")
        return country, None

    def lenient_address(self, channel: str) -> tuple[str, str | None]:
        country, problem = self.lenient_country()
        if problem is None:
            return self.address(channel, country), country
        try:
            address = self.address(channel, None)
        except InvalidAddress:
            if self.obj.get("jurisdiction") is None:
                raise
            raise ValueError(f"{problem}, and the address needs it") from None
        self.repairs.append(f"{problem}: ignored, the address reads without it")
        return address, None

    def lenient_at(self, name: str = "at") -> datetime | None:
        value = self.obj.get(name)
        try:
            if value is None:
                raise ValueError(f"{name} missing")
            return parse_instant(value, name)
        except ValueError as exc:
            self.repairs.append(f"{exc}: takes effect from when the gate received it")
        return None if self.received_at is None else _to_ms(self.received_at)

    def lenient_id(self, record_id: str | None, kind: str) -> str:
        if record_id is not None:
            return record_id
        content = repr(sorted((str(k), repr(v)) for k, v in self.obj.items() if k != "id"))
        derived = f"unidentified-{hashlib.sha256(content.encode()).hexdigest()[:16]}"
        self.repairs.append(f"id unreadable: this {kind} is {derived}")
        return derived


def _to_ms(received_at: datetime) -> datetime:
    moment = received_at.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def _consent(f: _Fields, record_id: str | None) -> ConsentRecord:
    assert record_id is not None
    evidence = f.obj.get("evidence")
    if not isinstance(evidence, Mapping) or not evidence.get("source"):
        raise ValueError("evidence.source is required: without it this is not recorded consent")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in evidence.items()):
        raise ValueError("evidence must be an object of strings")
    if len(evidence) > MAX_EVIDENCE_ENTRIES or any(
        len(k) > MAX_EVIDENCE_CHARS or len(v) > MAX_EVIDENCE_CHARS for k, v in evidence.items()
    ):
        raise ValueError(
            f"evidence is over its limits ({MAX_EVIDENCE_ENTRIES} entries of at most "
            f"{MAX_EVIDENCE_CHARS} characters)"
        )
    channel = f.choice("channel", CHANNELS)
    jurisdiction = f.country()
    return ConsentRecord(
        id=record_id,
        at=f.instant("at"),
        channel=channel,
        address=f.address(channel, jurisdiction),
        party=f.party("party"),
        purpose=f.choice("purpose", PURPOSES),
        action=f.choice("action", CONSENT_ACTIONS),
        evidence=dict(evidence),
        jurisdiction=jurisdiction,
        basis=f.choice("basis", BASES) if f.obj.get("basis") is not None else "express",
    )


def _optout(f: _Fields, record_id: str | None) -> OptOutRecord:
    f.strip_boms()
    channel = f.lenient_channel()
    address, jurisdiction = f.lenient_address(channel)
    party: str | None = None
    raw_party = f.obj.get("party")
    if raw_party is not None:
        try:
            party = canonical_party(raw_party)
        except ValueError as exc:
            f.repairs.append(f"party unreadable ({exc}): the opt-out covers every party")
    method = f.obj.get("method")
    folded = method.strip().lower() if isinstance(method, str) else None
    if folded not in OPTOUT_METHODS:
        f.repairs.append(
            "method missing: recorded as other" if method is None
            else f"method {excerpt(method)} unknown: recorded as other"
        )  # fmt: skip
        folded = "other"
    elif folded != method:
        f.repairs.append(f"method {excerpt(method)} read as {folded}")
    assert folded is not None
    at = f.lenient_at()
    return OptOutRecord(
        id=f.lenient_id(record_id, "opt-out"),
        at=at,
        channel=channel,
        address=address,
        party=party,
        method=folded,
        jurisdiction=jurisdiction,
        repairs=tuple(f.repairs),
    )


def _partner(f: _Fields, record_id: str | None) -> PartnerRecord:
    agreement = f.obj.get("agreement")
    if isinstance(agreement, str) and agreement.strip().lstrip(_BOM).lower() == "revoked":
        return _revocation(f, record_id)
    if record_id is None:
        raise ValueError("id must be a non-empty string")
    expires = f.obj.get("expires")
    return PartnerRecord(
        id=record_id,
        at=f.instant("at"),
        party=f.party("party"),
        agreement=f.choice("agreement", AGREEMENTS),
        expires=None if expires is None else parse_instant(expires, "expires"),
        repairs=tuple(f.repairs),
    )


def _revocation(f: _Fields, record_id: str | None) -> PartnerRecord:
    f.strip_boms()
    if f.obj.get("agreement") != "revoked":
        f.repairs.append(f"agreement {excerpt(f.obj.get('agreement'))} read as revoked")
    party = f.party("party")  # the one thing a revocation cannot do without
    expires_raw = f.obj.get("expires")
    expires = None
    if expires_raw is not None:
        try:
            expires = parse_instant(expires_raw, "expires")
        except ValueError as exc:
            f.repairs.append(f"{exc}: ignored, a revocation needs no expiry")
    at = f.lenient_at()
    return PartnerRecord(
        id=f.lenient_id(record_id, "revocation"),
        at=at,
        party=party,
        agreement="revoked",
        expires=expires,
        repairs=tuple(f.repairs),
    )


def _intent(f: _Fields, record_id: str | None) -> SendIntent:
    assert record_id is not None
    channel = f.choice("channel", CHANNELS)
    jurisdiction = f.country()
    table = shipped_table() if f.table is None else f.table
    if jurisdiction not in table.entries:
        raise ValueError(
            f"jurisdiction {jurisdiction} is not in the jurisdiction table: an unlisted country "
            "never means 'no rules' (add it to the table, docs/jurisdictions.md)"
        )
    has_opt_out = f.obj.get("has_opt_out")
    if not isinstance(has_opt_out, bool):
        raise ValueError("has_opt_out is required and must be true or false")
    body = f.obj.get("body")
    if body is not None:
        if not isinstance(body, str):
            raise ValueError("body must be a string")
        if len(body) > MAX_BODY_CHARS:
            raise ValueError(f"body is {len(body)} characters, over the limit of {MAX_BODY_CHARS}")
    subject = f.obj.get("subject")
    if subject is not None:
        if not isinstance(subject, str):
            raise ValueError("subject must be a string")
        if len(subject) > MAX_SUBJECT_CHARS:
            raise ValueError(
                f"subject is {len(subject)} characters, over the limit of {MAX_SUBJECT_CHARS}"
            )
    region = f.optional_text("region")
    if region is not None:
        region = region.strip().upper()
        if not _SUBDIVISION.fullmatch(region):
            raise ValueError(f"region {excerpt(region)} is not an ISO 3166-2 code like US-FL")
        country = iso_subdivision_country(region)
        if country is None:
            raise ValueError(f"region {region} is not an ISO 3166-2 subdivision")
        if country != jurisdiction:
            raise ValueError(f"region {region} is not in jurisdiction {jurisdiction}")
    return SendIntent(
        id=record_id,
        at=f.instant("at"),
        channel=channel,
        address=f.address(channel, jurisdiction),
        sender=f.party("sender"),
        category=f.choice("category", CATEGORIES),
        has_opt_out=has_opt_out,
        jurisdiction=jurisdiction,
        body=body,
        timezone=f.optional_text("timezone", MAX_TIMEZONE_CHARS),
        campaign=f.optional_text("campaign"),
        region=region,
        subject=subject,
    )


def _complaint(f: _Fields, record_id: str | None) -> ComplaintRecord:
    """An opt-out first (read as leniently), then what the acknowledgement deadline needs."""
    optout = _optout(f, record_id)  # f.repairs now holds the opt-out's repairs
    repairs = [r for r in f.repairs if not r.startswith(("method ", "id unreadable"))]
    text = f.obj.get("text")
    if text is not None and not isinstance(text, str):
        repairs.append("text is not a string: not kept")
        text = None
    elif text is None:
        repairs.append("text missing")
    elif len(text) > MAX_COMPLAINT_TEXT_CHARS:
        repairs.append(f"text is {len(text)} characters: cut to {MAX_COMPLAINT_TEXT_CHARS}")
        text = text[:MAX_COMPLAINT_TEXT_CHARS]
    region = _complaint_region(f.obj.get("region"), optout.jurisdiction, repairs)
    timezone = f.obj.get("timezone")
    if timezone is not None and (
        not isinstance(timezone, str) or not timezone.strip() or len(timezone) > MAX_TIMEZONE_CHARS
    ):
        repairs.append("timezone unreadable: the country's calendar zone applies")
        timezone = None
    complaint_id = (
        optout.id if record_id is not None else optout.id.replace("unidentified-", "complaint-")
    )
    if record_id is None:
        repairs.append(f"id unreadable: this complaint is {complaint_id}")
    return ComplaintRecord(
        id=complaint_id,
        at=optout.at,
        channel=optout.channel,
        address=optout.address,
        party=optout.party,
        jurisdiction=optout.jurisdiction,
        text=text,
        region=region,
        timezone=timezone.strip() if isinstance(timezone, str) else None,
        repairs=tuple(repairs),
    )


def _complaint_region(value: object, country: str | None, repairs: list[str]) -> str | None:
    if value is None:
        return None
    region = value.strip().upper() if isinstance(value, str) and len(value) <= 16 else None
    if (
        region is None
        or not _SUBDIVISION.fullmatch(region)
        or iso_subdivision_country(region) is None
        or region[:2] != country
    ):
        repairs.append(
            f"region {excerpt(value)} is not an ISO 3166-2 subdivision of the jurisdiction: "
            "the national calendar applies"
        )
        return None
    return region


def _complaint_ack(f: _Fields, record_id: str | None) -> ComplaintAckRecord:
    complaint_id = f.obj.get("complaint_id")
    if complaint_id is None:
        complaint_id = record_id
        if complaint_id is None:
            raise ValueError("complaint_id is required (or an id naming the complaint)")
    elif (
        not isinstance(complaint_id, str)
        or not complaint_id.strip()
        or len(complaint_id) > MAX_ID_CHARS
    ):
        raise ValueError(f"complaint_id must be a non-empty string of at most {MAX_ID_CHARS}")
    return ComplaintAckRecord(
        id=record_id if record_id is not None else f"ack:{complaint_id}",
        at=f.instant("at"),
        complaint_id=complaint_id,
    )


def _erasure(f: _Fields, record_id: str | None) -> ErasureRecord:
    """Strict on whom (module doc of policy/erasure.py); an unreadable `at` is when received."""
    assert record_id is not None
    raw_channel, address = f.obj.get("channel"), f.obj.get("address")
    if not isinstance(address, str):
        raise ValueError("address is required and must be a string")
    if raw_channel is None:
        channel = "email" if "@" in address else "sms"
    elif not isinstance(raw_channel, str) or raw_channel.strip().lower() not in CHANNELS:
        raise ValueError(f"channel {excerpt(raw_channel)} is not one of {', '.join(CHANNEL_LIST)}")
    else:
        channel = raw_channel.strip().lower()
    jurisdiction = None if f.obj.get("jurisdiction") is None else f.country()
    try:
        at: datetime | None = f.instant("at")
    except ValueError:
        at = None if f.received_at is None else _to_ms(f.received_at)
    return ErasureRecord(
        id=record_id, at=at, address=f.address(channel, jurisdiction), channel=channel,
        jurisdiction=jurisdiction, requested_by=f.optional_text("requested_by"),
        reason=f.optional_text("reason", MAX_ERASURE_REASON_CHARS),
    )  # fmt: skip


def _delivery(f: _Fields, record_id: str | None) -> DeliveryRecord:
    """Lenient like an opt-out, except for what the reconciliation cannot do without."""
    intent_id = f.obj.get("intent_id")  # before strip_boms: compared exactly with the intent's
    if not isinstance(intent_id, str) or not intent_id.strip() or len(intent_id) > MAX_ID_CHARS:
        raise ValueError(f"intent_id must be a non-empty string of at most {MAX_ID_CHARS}")
    f.strip_boms()
    channel = f.lenient_channel()
    if f.obj.get("jurisdiction") is None:  # optional here: only phone numbers without + need it
        address, jurisdiction = f.address(channel, None), None
    else:
        address, jurisdiction = f.lenient_address(channel)
    sender: str | None = None
    raw_sender = f.obj.get("sender")
    if raw_sender is not None:
        try:
            sender = canonical_party(raw_sender)
        except ValueError as exc:
            f.repairs.append(f"sender unreadable ({exc}): ignored")
    at = f.lenient_at()
    delivery_id = f.lenient_id(record_id, "delivery").replace("unidentified-", "delivery-")
    return DeliveryRecord(
        id=delivery_id, intent_id=intent_id, at=at, channel=channel, address=address,
        sender=sender, jurisdiction=jurisdiction,
        repairs=tuple(r.replace("unidentified-", "delivery-") for r in f.repairs),
    )  # fmt: skip


_PARSERS: Final[dict[str, Callable[[_Fields, str | None], Record]]] = {
    ConsentRecord.KIND: _consent,
    OptOutRecord.KIND: _optout,
    PartnerRecord.KIND: _partner,
    SendIntent.KIND: _intent,
    ComplaintRecord.KIND: _complaint,
    ComplaintAckRecord.KIND: _complaint_ack,
    ErasureRecord.KIND: _erasure,
    DeliveryRecord.KIND: _delivery,
}
# Kinds read even without a readable `id`: the restricting ones (module doc), the ack, whose
# `complaint_id` is what matters, and a delivery, whose `intent_id` is.
_LENIENT_KINDS: Final = frozenset(
    {OptOutRecord.KIND, PartnerRecord.KIND, ComplaintRecord.KIND, ComplaintAckRecord.KIND,
     DeliveryRecord.KIND}
)  # fmt: skip
