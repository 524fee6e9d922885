"""What the gate remembers about one recipient address, and how records change it.

One `RecipientState` holds every channel of one normalized address, because the Kafka key is the
address alone. It keeps exactly what the contract's rules need and nothing that could grow without
bound:

- per (channel, party): the newest grants of each basis, with their times (basis matters for the
  jurisdiction rules), the latest `confirm`, and the latest express grant at or before that confirm
  (the grant the confirm confirms);
- per (channel, party or None = every party): the latest opt-out time, which is all that "a grant
  later than every covering opt-out" needs;
- the newest opt-outs by id, each with the intent that was allowed to confirm it.

Times are compared by the records' `at`; arrival order only decides which records are known ("state
is what the records before it established"). A record whose `at` is later than an intent's still
counts for it: the gate knew it when it decided, and the message leaves after the verdict.

`apply` is idempotent by construction rather than by a log of ids: every change is a maximum, a
set insertion by id, or a pruning that a re-applied record cannot undo, so applying any record
again, however many records later, returns the very same object. Callers may use `new is old` to
skip a write.

Pruning: a grant or confirm at or before a same-channel opt-out that covers it can never count
again, so an opt-out deletes it and such a record arriving later is dropped on arrival. The caps
(GRANTS_KEPT per basis, RECENT_OPTOUTS_KEPT) only drop the oldest entries, which can turn an allow
into a deny but never the reverse.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from streams.policy.config import PolicyConfig
from streams.policy.records import ConsentRecord, OptOutRecord, PartnerRecord
from streams.policy.times import epoch_ms

EXPRESS: Final = "express"
GRANTS_KEPT: Final = 3
RECENT_OPTOUTS_KEPT: Final = 16
AGREEMENT_IDS_KEPT: Final = 16


@dataclass(frozen=True, slots=True, order=True)
class Grant:
    at: int
    basis: str


@dataclass(frozen=True, slots=True)
class ConsentLine:
    """Consent of one recipient to one party on one channel."""

    grants: tuple[Grant, ...] = ()
    confirmed_at: int | None = None
    confirmed_grant_at: int | None = None

    def with_grant(self, at: int, basis: str) -> ConsentLine:
        grant = Grant(at, basis)
        if grant in self.grants:
            return self
        same_basis = [g for g in self.grants if g.basis == basis]
        full = len(same_basis) >= GRANTS_KEPT
        if full and grant < same_basis[0]:
            return self
        grants = sorted((*self.grants, grant))
        if full:
            grants.remove(same_basis[0])
        confirmed_grant_at = self.confirmed_grant_at
        if (
            basis == EXPRESS
            and self.confirmed_at is not None
            and at <= self.confirmed_at
            and (confirmed_grant_at is None or at > confirmed_grant_at)
        ):
            confirmed_grant_at = at
        return ConsentLine(tuple(grants), self.confirmed_at, confirmed_grant_at)

    def with_confirm(self, at: int) -> ConsentLine:
        if self.confirmed_at is not None and at <= self.confirmed_at:
            return self
        confirmed = [g.at for g in self.grants if g.basis == EXPRESS and g.at <= at]
        if self.confirmed_grant_at is not None:
            confirmed.append(self.confirmed_grant_at)
        return ConsentLine(self.grants, at, max(confirmed, default=None))

    def after(self, floor: int) -> ConsentLine | None:
        """What is left once an opt-out at `floor` covers this line; None when nothing is."""
        grants = tuple(g for g in self.grants if g.at > floor)
        confirmed_at = (
            self.confirmed_at
            if self.confirmed_at is not None and self.confirmed_at > floor
            else None
        )
        paired = self.confirmed_grant_at
        paired = paired if paired is not None and paired > floor else None
        if not grants and confirmed_at is None:
            return None
        return ConsentLine(grants, confirmed_at, paired)


@dataclass(frozen=True, slots=True)
class OptOutMark:
    """One recent opt-out, kept so that exactly one confirmation can be allowed for it."""

    at: int
    id: str
    channel: str
    party: str | None
    confirmed_by: str | None = None

    @property
    def age_key(self) -> tuple[int, str]:
        return (self.at, self.id)


@dataclass(frozen=True, slots=True)
class RecipientState:
    """Everything known about one normalized address. Treat the mappings as read-only."""

    consents: Mapping[tuple[str, str], ConsentLine] = field(default_factory=dict)
    optouts: Mapping[tuple[str, str | None], int] = field(default_factory=dict)
    recent_optouts: tuple[OptOutMark, ...] = ()

    def covering_optout_at(self, channel: str, party: str) -> int | None:
        """The latest opt-out on `channel` from `party` or from every party."""
        optouts = self.optouts
        if not optouts:
            return None
        everyone = optouts.get((channel, None))
        own = optouts.get((channel, party))
        if everyone is None:
            return own
        return everyone if own is None or everyone > own else own

    def with_confirmation(self, optout_id: str, intent_id: str) -> RecipientState:
        """Remember that `intent_id` was the confirmation allowed for opt-out `optout_id`."""
        marks = tuple(
            OptOutMark(m.at, m.id, m.channel, m.party, intent_id) if m.id == optout_id else m
            for m in self.recent_optouts
        )
        return RecipientState(self.consents, self.optouts, marks)


EMPTY_STATE: Final = RecipientState()
_EMPTY_LINE: Final = ConsentLine()


def apply(
    state: RecipientState | None, record: ConsentRecord | OptOutRecord, config: PolicyConfig
) -> RecipientState:
    """The state after `record`. Pure; returns `state` itself when the record changes nothing."""
    current = EMPTY_STATE if state is None else state
    if isinstance(record, ConsentRecord):
        return _apply_consent(current, record)
    if isinstance(record, OptOutRecord):
        return _apply_optout(current, record)
    raise TypeError(
        f"a recipient state takes consent and opt-out records, not {type(record).__name__}"
    )


def _apply_consent(state: RecipientState, record: ConsentRecord) -> RecipientState:
    at = record.at_ms
    floor = state.covering_optout_at(record.channel, record.party)
    if floor is not None and at <= floor:
        return state
    key = (record.channel, record.party)
    line = state.consents.get(key, _EMPTY_LINE)
    changed = (
        line.with_grant(at, record.basis) if record.action == "grant" else line.with_confirm(at)
    )
    if changed is line:
        return state
    return RecipientState({**state.consents, key: changed}, state.optouts, state.recent_optouts)


def _apply_optout(state: RecipientState, record: OptOutRecord) -> RecipientState:
    at, channel, party = record.at_ms, record.channel, record.party
    consents, optouts = state.consents, state.optouts
    latest = optouts.get((channel, party))
    if latest is None or at > latest:
        optouts = {**optouts, (channel, party): at}
        consents = _prune(consents, channel, party, at)
    marks = _with_mark(state.recent_optouts, OptOutMark(at, record.id, channel, party))
    if optouts is state.optouts and marks is state.recent_optouts:
        return state
    return RecipientState(consents, optouts, marks)


def _prune(
    consents: Mapping[tuple[str, str], ConsentLine], channel: str, party: str | None, floor: int
) -> Mapping[tuple[str, str], ConsentLine]:
    kept: dict[tuple[str, str], ConsentLine] = {}
    for key, line in consents.items():
        if key[0] == channel and (party is None or key[1] == party):
            rest = line.after(floor)
            if rest is not None:
                kept[key] = rest
        else:
            kept[key] = line
    return kept


def _with_mark(marks: tuple[OptOutMark, ...], mark: OptOutMark) -> tuple[OptOutMark, ...]:
    if any(m.id == mark.id for m in marks):
        return marks
    if len(marks) >= RECENT_OPTOUTS_KEPT and mark.age_key < marks[0].age_key:
        return marks
    merged = sorted((*marks, mark), key=_age)
    return tuple(merged[-RECENT_OPTOUTS_KEPT:])


@dataclass(frozen=True, slots=True)
class Agreement:
    """The agreement in force for one party: the last partner record applied, in arrival order
    (the contract's "before"). `record_ids` remembers recent ids, so a redelivered old record
    cannot flip a revocation back."""

    party: str
    agreement: str
    at: int
    expires: int | None = None
    record_ids: tuple[str, ...] = ()

    def in_force(self, at_ms: int) -> bool:
        """Signed, not revoked, and not expired at `at_ms` (an agreement expires at `expires`)."""
        return self.agreement == "signed" and (self.expires is None or at_ms < self.expires)


def apply_agreement(current: Agreement | None, record: PartnerRecord) -> Agreement:
    """The agreement for `record.party` after `record`; `current` itself if already applied."""
    if current is not None and record.id in current.record_ids:
        return current
    seen = (*current.record_ids, record.id) if current is not None else (record.id,)
    expires = None if record.expires is None else epoch_ms(record.expires)
    return Agreement(
        record.party, record.agreement, record.at_ms, expires, seen[-AGREEMENT_IDS_KEPT:]
    )


class Agreements(Mapping[str, Agreement]):
    """Every party's agreement, as one immutable value: `apply` returns a new one (or this one,
    when the record changes nothing), so a reader never sees a half-applied change."""

    __slots__ = ("_by_party",)

    def __init__(self, by_party: Mapping[str, Agreement] | None = None) -> None:
        self._by_party: dict[str, Agreement] = dict(by_party or {})

    def __getitem__(self, party: str) -> Agreement:
        return self._by_party[party]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_party)

    def __len__(self) -> int:
        return len(self._by_party)

    def get(self, party: str, default: Any = None) -> Any:
        return self._by_party.get(party, default)

    def __repr__(self) -> str:
        return f"Agreements({self._by_party!r})"

    def apply(self, record: PartnerRecord) -> Agreements:
        current = self._by_party.get(record.party)
        changed = apply_agreement(current, record)
        if changed is current:
            return self
        return Agreements({**self._by_party, record.party: changed})


def _age(mark: OptOutMark) -> tuple[int, str]:
    return mark.age_key


# ---------------------------------------------------------------------------- encoding
# A state is read and written for every record, so the format is small and fast rather than
# self-describing: one format-version byte, then orjson arrays of ints and strings (times as epoch
# milliseconds). An unknown version is refused, never guessed at; a new version adds a decoder here.

STATE_FORMAT: Final = 1
_STATE_PREFIX: Final = bytes([STATE_FORMAT])


class StateDecodeError(ValueError):
    """Bytes that are not a state this version can read."""


def encode_state(state: RecipientState) -> bytes:
    consents = [
        [
            channel,
            party,
            [x for g in line.grants for x in (g.at, g.basis)],
            line.confirmed_at,
            line.confirmed_grant_at,
        ]
        for (channel, party), line in state.consents.items()
    ]
    optouts = [[channel, party, at] for (channel, party), at in state.optouts.items()]
    marks = [[m.at, m.id, m.channel, m.party, m.confirmed_by] for m in state.recent_optouts]
    return _STATE_PREFIX + orjson.dumps([consents, optouts, marks])


def decode_state(data: bytes) -> RecipientState:
    body = _body(data)
    try:
        consents, optouts, marks = body
        return RecipientState(
            {
                (channel, party): ConsentLine(
                    tuple(Grant(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)),
                    confirmed_at,
                    paired,
                )
                for channel, party, flat, confirmed_at, paired in consents
            },
            {(channel, party): at for channel, party, at in optouts},
            tuple(OptOutMark(*mark) for mark in marks),
        )
    except (TypeError, ValueError, IndexError) as exc:
        raise StateDecodeError(f"malformed recipient state: {exc}") from None


def encode_agreement(agreement: Agreement) -> bytes:
    return _STATE_PREFIX + orjson.dumps(
        [
            agreement.party,
            agreement.agreement,
            agreement.at,
            agreement.expires,
            agreement.record_ids,
        ]
    )


def decode_agreement(data: bytes) -> Agreement:
    try:
        party, kind, at, expires, ids = _body(data)
        return Agreement(party, kind, at, expires, tuple(ids))
    except (TypeError, ValueError) as exc:
        raise StateDecodeError(f"malformed agreement: {exc}") from None


def _body(data: bytes) -> Any:
    if not data or data[0] != STATE_FORMAT:
        version = data[0] if data else None
        raise StateDecodeError(f"unknown state format version {version!r}")
    try:
        return orjson.loads(memoryview(data)[1:])
    except orjson.JSONDecodeError as exc:
        raise StateDecodeError(f"state is not valid JSON: {exc}") from None
