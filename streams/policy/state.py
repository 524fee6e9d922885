"""What the gate remembers about one recipient address, and how records change it.

One `RecipientState` holds every channel of one normalized address, because the Kafka key is the
address alone. It keeps exactly what the contract's rules need, each entry with its `at`, and
nothing that could grow without bound:

- per (channel, party): the newest grants of each basis, with their times (basis matters for the
  jurisdiction rules), and the newest confirms, each paired with the latest express grant at or
  before it (the grant it confirms, kept even once that grant itself is dropped by the cap);
- per (channel, party or None = every party): the latest opt-out time, which is all that "a grant
  later than every covering opt-out" needs;
- the newest opt-outs by id, each with the intent that was allowed to confirm it;
- the id of every record kept (grants, confirms, the grant a confirm pairs with, the latest
  covering opt-out per (channel, party)), so a verdict can name the records it relied on (issue
  15 §1). Ids are stored through `short_id`: one over MAX_STORED_ID_CHARS keeps its head and a
  digest of the whole, which the audit tool computes the same way to match the ledger.

As of the intent (contract, "As of the intent"). The state may hold records dated after the intent
being decided (a backlog on Kafka, a future-dated record). `as_of(at)` is the view decide() reads:
grants and confirms dated after `at` are left out, opt-outs all count but one dated after `at`
counts as if at `at`, and only opt-outs at or before `at` may be confirmed. `horizon` (the latest
`at` held) lets decide() skip building a view in the usual case, where nothing is later.

`apply` is idempotent by construction rather than by a log of ids: every change is a maximum, a
set insertion by `at` or id, or a pruning that a re-applied record cannot undo, so applying a
record again returns the very same object (when a cap is full and the receipt clock moved on, a
redelivered record may change which entries the cap keeps; never towards an allow).

Pruning: a grant or confirm at or before a same-channel opt-out that covers it can never count
again for any intent (an opt-out dated after the intent counts as at the intent), so an opt-out
deletes it and such a record arriving later is dropped on arrival. The caps (GRANTS_KEPT per basis,
CONFIRMS_KEPT, RECENT_OPTOUTS_KEPT, SIGNED_KEPT) only ever drop a grant, a confirm, an opt-out
mark or a signed agreement, which can turn an allow into a deny but never the reverse. Which one
they drop is chosen against the receipt clock (`received_at`, when the caller has it): never the
latest entry dated at or before it, so records dated in the future cannot crowd out the one that
counts now; the oldest entry before it goes first, else the farthest in the future.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import blake2b
from typing import Any, Final, NamedTuple, TypeVar

import orjson

from streams.policy.config import PolicyConfig
from streams.policy.quick_init import quick_init
from streams.policy.records import ComplaintRecord, ConsentRecord, OptOutRecord, PartnerRecord
from streams.policy.times import MAX_MS, MIN_MS, epoch_ms

EXPRESS: Final = "express"
GRANTS_KEPT: Final = 3
CONFIRMS_KEPT: Final = 3
RECENT_OPTOUTS_KEPT: Final = 16
SIGNED_KEPT: Final = 4
MAX_STORED_ID_CHARS: Final = 64
_ID_HEAD: Final = MAX_STORED_ID_CHARS - 17


def short_id(record_id: str | None) -> str | None:
    """The form a record id is kept in (state size stays bounded whatever ids producers use): the
    id itself up to MAX_STORED_ID_CHARS, else its head, `~` and 16 hex digits of its blake2b."""
    if record_id is None or len(record_id) <= MAX_STORED_ID_CHARS:
        return record_id
    digest = blake2b(record_id.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{record_id[:_ID_HEAD]}~{digest}"


_T = TypeVar("_T")


def _bounded(items: list[_T], cap: int, now: int | None, at: Callable[[_T], int]) -> list[_T]:
    """`items` (sorted by `at`) cut to `cap`. Keeps the latest entry at or before `now` (no
    clock: the latest of all); drops the oldest entry before it, else the farthest future one."""
    while len(items) > cap:
        current = len(items) - 1
        if now is not None:
            while current >= 0 and at(items[current]) > now:
                current -= 1
        del items[0 if current > 0 else -1]
    return items


def _grant_at(grant: Grant) -> int:
    return grant.at


def _confirm_at(confirm: Confirm) -> int:
    return confirm.at


# Entries are named tuples, not dataclasses: built, compared and sorted for every record applied
# and every state decoded, where tuples are several times cheaper.


class Grant(NamedTuple):
    """One per (at, basis): a second record at the same instant and basis keeps the first id."""

    at: int
    basis: str
    id: str | None = None


class Confirm(NamedTuple):
    """A `confirm` at `at`, and the latest express grant at or before it (None: it confirms
    nothing, "a confirm with no earlier grant confirms nothing"). One per `at`."""

    at: int
    grant_at: int | None
    id: str | None = None
    grant_id: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class ConsentLine:
    """Consent of one recipient to one party on one channel. Both tuples are oldest first."""

    grants: tuple[Grant, ...] = ()
    confirms: tuple[Confirm, ...] = ()

    @property
    def confirmed_at(self) -> int | None:
        """The latest confirm held (in an as-of view: at or before the intent)."""
        return self.confirms[-1].at if self.confirms else None

    @property
    def confirmed_grant_at(self) -> int | None:
        """The grant the latest confirm confirms (pairs only grow with the confirm's `at`)."""
        return self.confirms[-1].grant_at if self.confirms else None

    def with_grant(
        self, at: int, basis: str, now: int | None = None, record_id: str | None = None
    ) -> ConsentLine:
        if any(g.at == at and g.basis == basis for g in self.grants):
            return self
        grant = Grant(at, basis, record_id)
        grants = tuple(sorted((*self.grants, grant)))
        if sum(g.basis == basis for g in grants) > GRANTS_KEPT:
            same = _bounded([g for g in grants if g.basis == basis], GRANTS_KEPT, now, _grant_at)
            if grant not in same:
                return self
            grants = tuple(g for g in grants if g.basis != basis or g in same)
        confirms = self.confirms
        if basis == EXPRESS and confirms:
            confirms = tuple(
                Confirm(c.at, at, c.id, record_id)
                if at <= c.at and (c.grant_at is None or at > c.grant_at)
                else c
                for c in confirms
            )
        return ConsentLine(grants, confirms)

    def with_confirm(
        self, at: int, now: int | None = None, record_id: str | None = None
    ) -> ConsentLine:
        if any(c.at == at for c in self.confirms):
            return self
        paired = max(
            (
                *((g.at, g.id) for g in self.grants if g.basis == EXPRESS and g.at <= at),
                *(
                    (c.grant_at, c.grant_id)
                    for c in self.confirms
                    if c.at < at and c.grant_at is not None
                ),
            ),
            key=_first,
            default=(None, None),
        )
        confirm = Confirm(at, paired[0], record_id, paired[1])
        confirms = sorted((*self.confirms, confirm), key=_confirm_at)
        if len(confirms) > CONFIRMS_KEPT and confirm not in _bounded(
            confirms, CONFIRMS_KEPT, now, _confirm_at
        ):
            return self
        return ConsentLine(self.grants, tuple(confirms))

    def after(self, floor: int) -> ConsentLine | None:
        """What is left once an opt-out at `floor` covers this line; None when nothing is."""
        grants = tuple(g for g in self.grants if g.at > floor)
        confirms = tuple(
            c if c.grant_at is None or c.grant_at > floor else Confirm(c.at, None, c.id)
            for c in self.confirms
            if c.at > floor
        )
        if not grants and not confirms:
            return None
        return ConsentLine(grants, confirms)

    def as_of(self, at: int) -> ConsentLine | None:
        """Only the grants and confirms dated at or before `at`; None when nothing is."""
        grants = tuple(g for g in self.grants if g.at <= at)
        confirms = tuple(c for c in self.confirms if c.at <= at)
        if not grants and not confirms:
            return None
        if len(grants) == len(self.grants) and len(confirms) == len(self.confirms):
            return self
        return ConsentLine(grants, confirms)


@quick_init
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


def _mark_at(mark: OptOutMark) -> int:
    return mark.at


@quick_init
@dataclass(frozen=True, slots=True)
class RecipientState:
    """Everything known about one normalized address. Treat the mappings as read-only.

    `horizon` is at least the latest `at` held (MIN_MS when empty). `base` is set only on an
    as-of view: the full state the view was cut from, which a state change goes to.
    `optout_ids` names the record behind each `optouts` entry (absent: not known, as in states
    stored before ids were kept)."""

    consents: Mapping[tuple[str, str], ConsentLine] = field(default_factory=dict)
    optouts: Mapping[tuple[str, str | None], int] = field(default_factory=dict)
    recent_optouts: tuple[OptOutMark, ...] = ()
    horizon: int = field(default=MIN_MS, compare=False)
    base: RecipientState | None = field(default=None, compare=False, repr=False)
    optout_ids: Mapping[tuple[str, str | None], str] = field(default_factory=dict)

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
        """Remember that `intent_id` was the confirmation allowed for opt-out `optout_id` (on the
        full state, when called on an as-of view)."""
        if self.base is not None:
            return self.base.with_confirmation(optout_id, intent_id)
        marks = tuple(
            OptOutMark(m.at, m.id, m.channel, m.party, intent_id) if m.id == optout_id else m
            for m in self.recent_optouts
        )
        return RecipientState(
            self.consents, self.optouts, marks, self.horizon, optout_ids=self.optout_ids
        )

    def as_of(self, at: int) -> RecipientState:
        """What counts for an intent at `at` (see the module docstring); `self` when nothing held
        is dated after it."""
        if self.horizon <= at:
            return self
        consents: dict[tuple[str, str], ConsentLine] = {}
        for key, line in self.consents.items():
            seen = line.as_of(at)
            if seen is not None:
                consents[key] = seen
        optouts = {key: min(when, at) for key, when in self.optouts.items()}
        marks = tuple(m for m in self.recent_optouts if m.at <= at)
        return RecipientState(consents, optouts, marks, at, self, self.optout_ids)


EMPTY_STATE: Final = RecipientState()
_EMPTY_LINE: Final = ConsentLine()


def apply(
    state: RecipientState | None,
    record: ConsentRecord | OptOutRecord,
    config: PolicyConfig,
    received_at: datetime | None = None,
) -> RecipientState:
    """The state after `record`. Pure; returns `state` itself when the record changes nothing.

    `received_at`, when the caller knows it, is when the gate got the record: an opt-out without a
    readable `at` takes effect from then (with neither, from the latest instant there is, so it
    counts for every intent and no grant outranks it), and the caps keep what counts at that time.
    """
    current = EMPTY_STATE if state is None else state
    if current.base is not None:
        raise ValueError("apply() takes a full recipient state, not an as-of view")
    now = None if received_at is None else epoch_ms(received_at)
    if isinstance(record, ConsentRecord):
        return _apply_consent(current, record, now)
    if isinstance(record, OptOutRecord):
        return _apply_optout(current, record, now)
    raise TypeError(
        f"a recipient state takes consent and opt-out records, not {type(record).__name__}"
    )


def complaint(
    state: RecipientState | None,
    record: ComplaintRecord,
    config: PolicyConfig,
    received_at: datetime | None = None,
) -> RecipientState:
    """A complaint is an opt-out (issue 15 §4): applied through `apply` as the opt-out it is
    (method `complaint`, same id, party None: every party), so nothing about opt-outs differs."""
    return apply(state, record.as_optout(), config, received_at)


def _apply_consent(state: RecipientState, record: ConsentRecord, now: int | None) -> RecipientState:
    at = record.at_ms
    floor = state.covering_optout_at(record.channel, record.party)
    if floor is not None and at <= floor:
        return state
    key = (record.channel, record.party)
    line = state.consents.get(key, _EMPTY_LINE)
    record_id = short_id(record.id)
    changed = (
        line.with_grant(at, record.basis, now, record_id)
        if record.action == "grant"
        else line.with_confirm(at, now, record_id)
    )
    if changed is line:
        return state
    return RecipientState(
        {**state.consents, key: changed},
        state.optouts,
        state.recent_optouts,
        max(state.horizon, at),
        optout_ids=state.optout_ids,
    )


def _apply_optout(state: RecipientState, record: OptOutRecord, now: int | None) -> RecipientState:
    when: datetime | None = record.at
    at = epoch_ms(when) if when is not None else MAX_MS if now is None else now
    channel, party = record.channel, record.party
    consents, optouts, ids = state.consents, state.optouts, state.optout_ids
    latest = optouts.get((channel, party))
    if latest is None or at > latest:
        optouts = {**optouts, (channel, party): at}
        ids = {**ids, (channel, party): short_id(record.id) or ""}
        consents = _prune(consents, channel, party, at)
    marks = _with_mark(state.recent_optouts, OptOutMark(at, record.id, channel, party), now)
    if optouts is state.optouts and marks is state.recent_optouts:
        return state
    return RecipientState(consents, optouts, marks, max(state.horizon, at), optout_ids=ids)


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


def _with_mark(
    marks: tuple[OptOutMark, ...], mark: OptOutMark, now: int | None
) -> tuple[OptOutMark, ...]:
    if any(m.id == mark.id for m in marks):
        return marks
    merged = sorted((*marks, mark), key=_age)
    if len(merged) > RECENT_OPTOUTS_KEPT:
        merged = _bounded(merged, RECENT_OPTOUTS_KEPT, now, _mark_at)
        if mark not in merged:
            return marks
    return tuple(merged)


# ---------------------------------------------------------------------------- agreements


class Signed(NamedTuple):
    """A `signed` partner record: when, until when (None: no expiry), which record. One per
    `at`."""

    at: int
    expires: int | None
    id: str


@dataclass(frozen=True, slots=True)
class Agreement:
    """A party's held agreement records, reduced to what any intent can need: the latest
    revocation, and the signed records later than it (oldest first, at most SIGNED_KEPT).

    As of an intent at T, the agreement is the held record with the latest `at`, `revoked` winning
    ties, where a signed record dated after T does not count and a revocation counts whatever its
    date (one dated after T as if at T). So a signed record at or before the latest revocation can
    never count again and is dropped, and a redelivered old `signed` cannot undo a revocation."""

    party: str
    signed: tuple[Signed, ...] = ()
    revoked_at: int | None = None
    revoked_id: str | None = None

    def in_force(self, at_ms: int) -> bool:
        """Signed as of `at_ms`, not revoked, and not expired then (it expires at `expires`)."""
        if self.revoked_at is not None and self.revoked_at >= at_ms:
            return False
        latest = self.signed_as_of(at_ms)
        return latest is not None and (latest.expires is None or at_ms < latest.expires)

    def signed_as_of(self, at_ms: int) -> Signed | None:
        """The latest signed record dated at or before `at_ms` (later than every revocation)."""
        found = None
        for signed in self.signed:
            if signed.at > at_ms:
                break
            found = signed
        return found

    # The last record's view, for callers that predate the history (explanations, tools).
    @property
    def agreement(self) -> str:
        return "signed" if self.signed else "revoked"

    @property
    def at(self) -> int:
        if self.signed:
            return self.signed[-1].at
        return MIN_MS if self.revoked_at is None else self.revoked_at

    @property
    def expires(self) -> int | None:
        return self.signed[-1].expires if self.signed else None

    @property
    def record_ids(self) -> tuple[str, ...]:
        revoked = () if self.revoked_id is None else (self.revoked_id,)
        return (*revoked, *(s.id for s in self.signed))


def apply_agreement(
    current: Agreement | None, record: PartnerRecord, received_at: datetime | None = None
) -> Agreement:
    """The agreement for `record.party` after `record`; `current` itself if nothing changes.

    `received_at` as for `apply`: when the revocation has no readable `at` it takes effect from
    then (with neither, from the latest instant there is: it binds every intent for good), and the
    cap keeps the signed record that counts at that time."""
    base = Agreement(record.party) if current is None else current
    now = None if received_at is None else epoch_ms(received_at)
    when: datetime | None = record.at
    at = epoch_ms(when) if when is not None else MAX_MS if now is None else now
    revoked = base.revoked_at
    if record.agreement != "signed":
        if revoked is not None and at <= revoked:
            return base
        return Agreement(base.party, tuple(s for s in base.signed if s.at > at), at, record.id)
    if revoked is not None and at <= revoked:  # revoked wins ties
        return base
    expires = None if record.expires is None else epoch_ms(record.expires)
    new = Signed(at, expires, record.id)
    same = next((s for s in base.signed if s.at == at), None)
    if same is not None:  # two signed at one instant: the stricter expiry holds
        if _expiry(new) >= _expiry(same):
            return base
        signed = sorted((new if s is same else s for s in base.signed), key=_signed_at)
    else:
        signed = sorted((*base.signed, new), key=_signed_at)
        if len(signed) > SIGNED_KEPT:
            signed = _bounded(signed, SIGNED_KEPT, now, _signed_at)
            if new not in signed:
                return base
    return Agreement(base.party, tuple(signed), revoked, base.revoked_id)


def _expiry(signed: Signed) -> int:
    return MAX_MS + 1 if signed.expires is None else signed.expires


def _signed_at(signed: Signed) -> int:
    return signed.at


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

    def apply(self, record: PartnerRecord, received_at: datetime | None = None) -> Agreements:
        current = self._by_party.get(record.party)
        changed = apply_agreement(current, record, received_at)
        if changed is current:
            return self
        return Agreements({**self._by_party, record.party: changed})


def _age(mark: OptOutMark) -> tuple[int, str]:
    return mark.age_key


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


# ---------------------------------------------------------------------------- encoding
# A state is read and written for every record, so the format is small and fast rather than
# self-describing: one format-version byte, then orjson arrays of ints and strings (times as epoch
# milliseconds). An unknown version is refused, never guessed at. Version 3 (this one) adds the
# record ids (grants as (at, basis, id) triples, confirms as (at, grant_at, id, grant_id) quads,
# opt-outs as (channel, party, at, id)); version 2 kept every confirm with the grant it pairs
# with, and agreement histories; versions 1 and 2 are still read (their ids read as unknown).
# Agreements have had the same body since version 2.

STATE_FORMAT: Final = 3
_STATE_PREFIX: Final = bytes([STATE_FORMAT])
_V1: Final = 1
_V2: Final = 2


class StateDecodeError(ValueError):
    """Bytes that are not a state this version can read."""


def encode_state(state: RecipientState) -> bytes:
    if state.base is not None:
        raise ValueError("an as-of view is not stored; encode its base")
    consents = [
        [
            channel,
            party,
            [x for g in line.grants for x in g],
            [x for c in line.confirms for x in c],
        ]
        for (channel, party), line in state.consents.items()
    ]
    ids = state.optout_ids
    optouts = [
        [channel, party, at, ids.get((channel, party))]
        for (channel, party), at in state.optouts.items()
    ]
    marks = [[m.at, m.id, m.channel, m.party, m.confirmed_by] for m in state.recent_optouts]
    return _STATE_PREFIX + orjson.dumps([consents, optouts, marks])


def decode_state(data: bytes) -> RecipientState:
    version, body = _body(data)
    current = version == STATE_FORMAT
    grant_width, confirm_width = (3, 4) if current else (2, 2)
    try:
        consents_raw, optouts_raw, marks_raw = body
        consents: dict[tuple[str, str], ConsentLine] = {}
        times: list[int] = [MIN_MS]  # every `at` held, for the horizon
        for channel, party, flat, *rest in consents_raw:
            if len(flat) % grant_width:
                raise ValueError("grants come in (at, basis[, id]) groups")
            ats = flat[::grant_width]
            times += ats
            if current:
                grants = tuple(map(Grant, ats, flat[1::3], flat[2::3]))
            else:
                grants = tuple(map(Grant, ats, flat[1::2]))
            if version != _V1:
                (pairs,) = rest
                if pairs == []:  # nothing confirmed: most lines
                    confirms: tuple[Confirm, ...] = ()
                else:
                    if len(pairs) % confirm_width:
                        raise ValueError("confirms come in (at, grant[, id, grant id]) groups")
                    ats = pairs[::confirm_width]
                    times += ats
                    columns = (pairs[i::confirm_width] for i in range(confirm_width))
                    confirms = tuple(map(Confirm, *columns))
            else:  # version 1: the latest confirm and the grant it confirms
                confirmed_at, paired = rest
                confirms = () if confirmed_at is None else (Confirm(confirmed_at, paired),)
                if confirmed_at is not None:
                    times.append(confirmed_at)
            consents[(channel, party)] = ConsentLine(grants, confirms)
        optouts: dict[tuple[str, str | None], int] = {}
        optout_ids: dict[tuple[str, str | None], str] = {}
        for channel, party, at, *known in optouts_raw:
            optouts[(channel, party)] = at
            if known and known[0] is not None:
                optout_ids[(channel, party)] = known[0]
        times += optouts.values()
        marks: tuple[OptOutMark, ...] = ()
        if marks_raw != []:  # no recent opt-outs: most states
            marks = tuple(OptOutMark(*mark) for mark in marks_raw)
            times += [m.at for m in marks]
        horizon = max(times)
        if not isinstance(horizon, int):
            raise TypeError("times must be integers")
        return RecipientState(consents, optouts, marks, horizon, optout_ids=optout_ids)
    except (TypeError, ValueError, IndexError) as exc:
        raise StateDecodeError(f"malformed recipient state: {exc}") from None


def encode_agreement(agreement: Agreement) -> bytes:
    return _STATE_PREFIX + orjson.dumps(
        [
            agreement.party,
            agreement.revoked_at,
            agreement.revoked_id,
            [[s.at, s.expires, s.id] for s in agreement.signed],
        ]
    )


def decode_agreement(data: bytes) -> Agreement:
    version, body = _body(data)
    try:
        if version == _V1:  # the last record applied, and recent record ids
            party, kind, at, expires, ids = body
            last = ids[-1] if ids else ""
            if kind == "signed":
                return Agreement(party, (Signed(at, expires, last),))
            return Agreement(party, (), at, last or None)
        party, revoked_at, revoked_id, signed = body
        return Agreement(
            party, tuple(Signed(at, expires, i) for at, expires, i in signed), revoked_at,
            revoked_id,
        )  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise StateDecodeError(f"malformed agreement: {exc}") from None


def _body(data: bytes) -> tuple[int, Any]:
    version = data[0] if data else None
    if version not in (_V1, _V2, STATE_FORMAT):
        raise StateDecodeError(f"unknown state format version {version!r}")
    try:
        return version, orjson.loads(memoryview(data)[1:])
    except orjson.JSONDecodeError as exc:
        raise StateDecodeError(f"state is not valid JSON: {exc}") from None
