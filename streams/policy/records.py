"""The contract's records as typed, frozen values, and the one validator that builds them.

`parse_record` accepts what JSON lines and fastavro give: `at`/`expires` as ISO-8601 text or aware
datetimes. Addresses come out normalized (addresses.py). Unknown extra fields are tolerated and
dropped, so producers may add fields. Consent `basis` is one of express, implied_purchase,
implied_inquiry, soft_opt_in (absent or null: express); intent `region` is optional, an ISO 3166-2
code (`US-FL`) of the intent's own jurisdiction. Opt-outs are read leniently where leniency can only
restrict (see OptOutRecord). Anything else wrong raises InvalidRecord naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final

from streams.policy.addresses import CHANNELS, normalize_address
from streams.policy.errors import InvalidAddress, InvalidRecord
from streams.policy.reasons import SEVERITY
from streams.policy.times import epoch_ms, format_instant, parse_instant

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

_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_SUBDIVISION: Final = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")


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


@dataclass(frozen=True, slots=True)
class OptOutRecord:
    """An opt-out of one recipient from one party (`party` None: from every party).

    An opt-out is honoured whenever its channel, address and time can be read: an unknown or
    missing `method` is recorded as `other`, and `jurisdiction` may be missing (None) when the
    address needs no region to be read (E.164 with `+`, email, social_dm, post). Dead-lettering it
    instead would fail open for the recipient. (The method as given is not kept: every field here
    is a field of the optout-events schema, and that schema has none for it.)"""

    KIND: ClassVar[str] = "optout"
    id: str
    at: datetime
    channel: str
    address: str
    party: str | None
    method: str
    jurisdiction: str | None

    @property
    def at_ms(self) -> int:
        return epoch_ms(self.at)


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    """A third party's written promise to send no unsolicited advertising (policy 4), or its end."""

    KIND: ClassVar[str] = "partner"
    id: str
    at: datetime
    party: str
    agreement: str
    expires: datetime | None = None

    @property
    def at_ms(self) -> int:
        return epoch_ms(self.at)


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

    @property
    def at_ms(self) -> int:
        return epoch_ms(self.at)


Record = ConsentRecord | OptOutRecord | PartnerRecord | SendIntent


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer for one intent, keyed by the intent's id. `detail` says, for a deny that
    needs it (an invalid intent), what was wrong; channel, sender, category and intent_at echo the
    intent where it had them, for consumers and audit."""

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

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

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
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: instants as ISO-8601 text."""
        return _json_ready(self.to_wire())


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

    def to_wire(self) -> dict[str, Any]:
        """Field values as Avro takes them (instants as aware datetimes)."""
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
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: instants as ISO-8601 text."""
        return _json_ready(self.to_wire())


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
    )  # fmt: skip


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_record(obj: Mapping[str, Any], *, kind: str | None = None) -> Record:
    """Validate one JSON-like record. `kind` is its `type` (on Kafka, the topic tells it)."""
    if not isinstance(obj, Mapping):
        raise InvalidRecord(f"a record must be an object, got {type(obj).__name__}")
    raw_id = obj.get("id")
    record_id = raw_id if isinstance(raw_id, str) and raw_id.strip() else None
    declared = obj.get("type")
    if kind is None:
        kind = declared
    elif declared is not None and declared != kind:
        raise InvalidRecord(f"type {declared!r} does not match {kind!r}", record_id, kind)
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise InvalidRecord(f"unknown record type {kind!r}", record_id)
    try:
        if record_id is None:
            raise ValueError("id must be a non-empty string")
        return parser(_Fields(obj), record_id)
    except InvalidAddress as exc:
        raise InvalidRecord(f"address: {exc.message}", record_id, kind) from None
    except ValueError as exc:
        raise InvalidRecord(str(exc), record_id, kind) from None


class _Fields:
    """Typed field access with messages that name the field."""

    __slots__ = ("obj",)

    def __init__(self, obj: Mapping[str, Any]) -> None:
        self.obj = obj

    def text(self, name: str) -> str:
        value = self.obj.get(name)
        if value is None:
            raise ValueError(f"{name} is required")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self.obj.get(name) is None else self.text(name)

    def choice(self, name: str, allowed: frozenset[str]) -> str:
        value = self.text(name)
        if value not in allowed:
            raise ValueError(f"{name} {value!r} is not one of {', '.join(sorted(allowed))}")
        return value

    def instant(self, name: str) -> datetime:
        value = self.obj.get(name)
        if value is None:
            raise ValueError(f"{name} is required")
        return parse_instant(value, name)

    def country(self, name: str = "jurisdiction") -> str:
        value = self.text(name).strip().upper()
        if not _COUNTRY.fullmatch(value):
            raise ValueError(f"{name} {value!r} is not an ISO 3166-1 alpha-2 code")
        return value

    def address(self, channel: str, jurisdiction: str) -> str:
        return normalize_address(channel, self.text("address"), jurisdiction)


def _consent(f: _Fields, record_id: str) -> ConsentRecord:
    evidence = f.obj.get("evidence")
    if not isinstance(evidence, Mapping) or not evidence.get("source"):
        raise ValueError("evidence.source is required: without it this is not recorded consent")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in evidence.items()):
        raise ValueError("evidence must be an object of strings")
    channel = f.choice("channel", CHANNELS)
    jurisdiction = f.country()
    return ConsentRecord(
        id=record_id,
        at=f.instant("at"),
        channel=channel,
        address=f.address(channel, jurisdiction),
        party=f.text("party"),
        purpose=f.choice("purpose", PURPOSES),
        action=f.choice("action", CONSENT_ACTIONS),
        evidence=dict(evidence),
        jurisdiction=jurisdiction,
        basis=f.choice("basis", BASES) if f.obj.get("basis") is not None else "express",
    )


def _optout(f: _Fields, record_id: str) -> OptOutRecord:
    channel = f.choice("channel", CHANNELS)
    # Lenient where leniency can only restrict: a missing or unreadable jurisdiction is no reason
    # to drop an opt-out whose address reads without it.
    jurisdiction: str | None
    try:
        country = f.country()
    except ValueError as unreadable:
        jurisdiction = None
        try:
            address = normalize_address(channel, f.text("address"), None)
        except InvalidAddress:
            if f.obj.get("jurisdiction") is None:
                raise
            raise unreadable from None  # the address needed the region, which is unreadable
    else:
        jurisdiction = country
        address = f.address(channel, country)
    method = f.obj.get("method")
    if not isinstance(method, str) or method not in OPTOUT_METHODS:
        method = "other"
    return OptOutRecord(
        id=record_id,
        at=f.instant("at"),
        channel=channel,
        address=address,
        party=f.optional_text("party"),
        method=method,
        jurisdiction=jurisdiction,
    )


def _partner(f: _Fields, record_id: str) -> PartnerRecord:
    expires = f.obj.get("expires")
    return PartnerRecord(
        id=record_id,
        at=f.instant("at"),
        party=f.text("party"),
        agreement=f.choice("agreement", AGREEMENTS),
        expires=None if expires is None else parse_instant(expires, "expires"),
    )


def _intent(f: _Fields, record_id: str) -> SendIntent:
    channel = f.choice("channel", CHANNELS)
    jurisdiction = f.country()
    has_opt_out = f.obj.get("has_opt_out")
    if not isinstance(has_opt_out, bool):
        raise ValueError("has_opt_out is required and must be true or false")
    body = f.obj.get("body")
    if body is not None and not isinstance(body, str):
        raise ValueError("body must be a string")
    region = f.optional_text("region")
    if region is not None:
        region = region.strip().upper()
        if not _SUBDIVISION.fullmatch(region):
            raise ValueError(f"region {region!r} is not an ISO 3166-2 code like US-FL")
        if region[:2] != jurisdiction:
            raise ValueError(f"region {region!r} is not in jurisdiction {jurisdiction}")
    return SendIntent(
        id=record_id,
        at=f.instant("at"),
        channel=channel,
        address=f.address(channel, jurisdiction),
        sender=f.text("sender"),
        category=f.choice("category", CATEGORIES),
        has_opt_out=has_opt_out,
        jurisdiction=jurisdiction,
        body=body,
        timezone=f.optional_text("timezone"),
        campaign=f.optional_text("campaign"),
        region=region,
    )


_PARSERS: Final[dict[str, Callable[[_Fields, str], Record]]] = {
    ConsentRecord.KIND: _consent,
    OptOutRecord.KIND: _optout,
    PartnerRecord.KIND: _partner,
    SendIntent.KIND: _intent,
}
