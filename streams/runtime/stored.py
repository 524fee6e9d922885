"""What the consent table holds per address: the policy state plus the verdicts it produced.

The verdict memo makes reprocessing idempotent. With at-least-once delivery an intent can be
decided again after a crash, and by then later records (an opt-out produced after the intent) may
be in the state; deciding afresh could contradict the verdict already written. The memo lives in
the same table value as the state, so it reaches the changelog in the same write: if the memo was
lost, so was every later change to that address, and re-deciding sees exactly what it saw before.

Each entry carries the intent's content digest (`policy.engine.intent_digest`): the memo repeats
a verdict only for the same intent; an id reused with other content is refused, never answered
with another intent's verdict. Since format 3 an entry keeps the whole verdict (the records it
relied on, the intent's echo, detail, rules), so the repeat equals the original field for field
(`MemoEntry.verdict`), and what late opt-outs need (`policy.late_optouts`: the intent's `at`,
sender, channel, category and jurisdiction).

Bounded: the newest `MEMO_SIZE` verdicts per address. A contradiction would need more than that
many intents for one address to be reprocessed at once, far beyond one commit interval's worth;
a late opt-out can only be matched against these.

Compact, because the value is rewritten for every intent: entries are orjson arrays with their
trailing nulls dropped; `reasons` is null when it is just `[reason]`, `rules_evaluated` null when
it is the rules of the intent's category, and `policy_version` null when it is the value's
default (written once, before the entries). Entries are decoded only when asked for (`recall`
decodes one), so reading a value costs one orjson parse whatever the memo holds.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from streams.policy.late_optouts import RECALLED
from streams.policy.records import SendIntent, Verdict
from streams.policy.rules import parameter_rules_for, rules_for
from streams.policy.state import STATE_FORMAT, RecipientState, decode_state, encode_state
from streams.policy.times import epoch_ms, from_epoch_ms

# 3: entries keep the whole verdict and the intent's at, sender, channel, category and
# jurisdiction, with a default policy version; 2: entries carry the intent's digest;
# 1: no digests. 1 and 2 are still read (their entries repeat decision, reasons and time only).
FORMAT = 3
MEMO_SIZE = RECALLED  # 32: policy.late_optouts looks at as many
_HEADER = struct.Struct(">BI")
_LEGACY = (1, 2)
_MIN_ROW = 5  # id, decision, reason, reasons, decided_at: never trimmed
_FIELDS = 18  # of a format 3 entry, in MemoEntry's order
_PAD: tuple[None, ...] = (None,) * _FIELDS


class StoredValueError(ValueError):
    """A table value this version cannot read."""


@dataclass(frozen=True, slots=True)
class MemoEntry:
    """One verdict as the memo keeps it. The fields after `digest` are None in entries written
    by formats 1 and 2 (`repeats_exactly` False: only decision, reasons and time are known)."""

    intent_id: str
    decision: str
    reason: str
    reasons: tuple[str, ...]
    decided_at_ms: int
    policy_version: str
    digest: bytes | None = None  # None only in entries written by format 1
    intent_at_ms: int | None = None
    channel: str | None = None
    sender: str | None = None
    category: str | None = None
    jurisdiction: str | None = None
    grant_id: str | None = None
    confirm_id: str | None = None
    agreement_id: str | None = None
    optout_id: str | None = None
    detail: str | None = None
    rules_evaluated: tuple[str, ...] = ()

    @classmethod
    def of(cls, verdict: Verdict, intent: SendIntent, digest: bytes) -> MemoEntry:
        """The entry for `verdict`, decided for `intent` (whose digest is `digest`)."""
        return cls(*_entry_fields(verdict, intent, digest))

    @property
    def repeats_exactly(self) -> bool:
        """Written by format 3 (every valid intent has an `at`), so `verdict()` is the whole
        verdict; older entries lack the echo and the relied-on ids."""
        return self.intent_at_ms is not None

    def verdict(self) -> Verdict:
        """The verdict written the first time, field for field (`decided_at` at the millisecond
        it was stored with, as on the wire; `recipient_ref` is the caller's to fill)."""
        return Verdict(
            self.intent_id, self.decision, self.reason, self.reasons, self.policy_version,
            self.rules_evaluated, from_epoch_ms(self.decided_at_ms), self.detail, self.channel,
            self.sender, self.category,
            None if self.intent_at_ms is None else from_epoch_ms(self.intent_at_ms),
            self.grant_id, self.confirm_id, self.agreement_id, self.optout_id,
        )  # fmt: skip


@cache
def _rules_of(category: str | None) -> tuple[str, ...]:
    """The rule ids `decide` lists for `category` (engine `_plan`): a memo entry stores its
    `rules_evaluated` only when it differs."""
    if category is None:
        return ()
    return (
        *(rule.RULE_ID for rule in rules_for(category)),
        *(rule.RULE_ID for rule in parameter_rules_for(category)),
    )


def _entry_fields(verdict: Verdict, intent: SendIntent, digest: bytes) -> list[Any]:
    """A verdict's memo entry, as MemoEntry's fields in order."""
    at = verdict.intent_at
    return [
        intent.id, verdict.decision, verdict.reason, verdict.reasons,
        epoch_ms(verdict.decided_at), verdict.policy_version, digest,
        None if at is None else epoch_ms(at), verdict.channel, verdict.sender, verdict.category,
        intent.jurisdiction, verdict.grant_id, verdict.confirm_id, verdict.agreement_id,
        verdict.optout_id, verdict.detail, verdict.rules_evaluated,
    ]  # fmt: skip


def _row(e: MemoEntry, default: str | None) -> list[Any]:
    return _compacted([
        e.intent_id, e.decision, e.reason, e.reasons, e.decided_at_ms, e.policy_version, e.digest,
        e.intent_at_ms, e.channel, e.sender, e.category, e.jurisdiction, e.grant_id,
        e.confirm_id, e.agreement_id, e.optout_id, e.detail, e.rules_evaluated,
    ], default)  # fmt: skip


def _compacted(fields: list[Any], default: str | None) -> list[Any]:
    """The stored row of an entry given as MemoEntry's fields in order (module doc): reasons
    null when just [reason], the policy version null when the value's default, the digest in
    hex, rules null when its category's (or for an older entry, without intent time), and the
    trailing nulls dropped. Changes `fields` in place."""
    reason, reasons, category, rules = fields[2], fields[3], fields[10], fields[17]
    fields[3] = None if reasons == (reason,) else list(reasons)
    if fields[5] == default:
        fields[5] = None
    if fields[6] is not None:
        fields[6] = fields[6].hex()
    no_echo = fields[7] is None  # written by formats 1 and 2: rules are not kept
    fields[17] = None if no_echo or rules == _rules_of(category) else list(rules)
    while fields[-1] is None:
        fields.pop()
    return fields


def _entry(row: list[Any], default: str | None) -> MemoEntry:
    if len(row) > _FIELDS:
        raise StoredValueError(f"verdict memo entry has {len(row)} fields, over {_FIELDS}")
    r = [*row, *_PAD[len(row) :]]
    version = default if r[5] is None else r[5]
    if not isinstance(version, str):
        raise StoredValueError("verdict memo entry has no policy version")
    intent_at, category, rules = r[7], r[10], r[17]
    try:
        return MemoEntry(
            r[0], r[1], r[2], (r[2],) if r[3] is None else tuple(r[3]), int(r[4]), version,
            None if r[6] is None else bytes.fromhex(r[6]), intent_at, r[8], r[9], category,
            r[11], r[12], r[13], r[14], r[15], r[16],
            tuple(rules) if rules is not None
            else _rules_of(category) if intent_at is not None else (),
        )  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise StoredValueError(f"malformed verdict memo entry: {exc}") from None


class Stored:
    """A recipient's state and verdict memo. Immutable: every change returns a new value. The
    memo is held as its encoded rows, each decoded when asked for. A value read from the table
    keeps its state's bytes while the state is unchanged, and writes them back as they were:
    most intents change only the memo, and re-encoding the state cost about 3 µs."""

    __slots__ = ("_default", "_rows", "_state_bytes", "state")

    def __init__(self, state: RecipientState, memo: Iterable[MemoEntry] = ()) -> None:
        self.state = state
        self._state_bytes: bytes | None = None
        self._default: str | None = None
        self._rows: tuple[list[Any], ...] = ()
        for entry in memo:
            self._default, self._rows = self._appended(entry)

    @classmethod
    def _raw(
        cls,
        state: RecipientState,
        default: str | None,
        rows: tuple[list[Any], ...],
        state_bytes: bytes | None = None,
    ) -> Stored:
        stored = cls.__new__(cls)
        stored.state, stored._default, stored._rows = state, default, rows
        stored._state_bytes = state_bytes
        return stored

    @property
    def memo(self) -> tuple[MemoEntry, ...]:
        """Every entry, oldest first."""
        return tuple(_entry(row, self._default) for row in self._rows)

    def recall(self, intent_id: str) -> MemoEntry | None:
        for row in self._rows:
            if row[0] == intent_id:
                return _entry(row, self._default)
        return None

    def remember(self, entry: MemoEntry) -> Stored:
        default, rows = self._appended(entry)
        return Stored._raw(self.state, default, rows, self._state_bytes)

    def remember_verdict(self, verdict: Verdict, intent: SendIntent, digest: bytes) -> Stored:
        """`remember(MemoEntry.of(verdict, intent, digest))`, with the row written straight
        from the verdict when its policy version is the memo's, or the memo is empty (every
        intent makes one)."""
        default = verdict.policy_version
        if default != self._default and self._rows:  # the older rows are rewritten
            return self.remember(MemoEntry.of(verdict, intent, digest))
        row = _compacted(_entry_fields(verdict, intent, digest), default)
        rows = (*self._rows, row)[-MEMO_SIZE:]
        return Stored._raw(self.state, default, rows, self._state_bytes)

    def with_state(self, state: RecipientState) -> Stored:
        kept = self._state_bytes if state is self.state else None
        return Stored._raw(state, self._default, self._rows, kept)

    def _appended(self, entry: MemoEntry) -> tuple[str, tuple[list[Any], ...]]:
        default, rows = self._default, self._rows
        if entry.policy_version != default:  # a new policy version: it becomes the default
            new = entry.policy_version
            rows = tuple(_row(_entry(row, default), new) for row in rows)
            default = new
        return default, (*rows, _row(entry, default))[-MEMO_SIZE:]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stored):
            return NotImplemented
        return self.state == other.state and self.memo == other.memo

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Stored({self.state!r}, {self.memo!r})"


EMPTY = Stored(RecipientState())


def encode_stored(stored: Stored) -> bytes:
    state = stored._state_bytes or encode_state(stored.state)
    memo = orjson.dumps([stored._default, stored._rows])
    return _HEADER.pack(FORMAT, len(state)) + state + memo


def decode_stored(data: bytes | None) -> Stored:
    if not data:
        return EMPTY
    try:
        version, state_len = _HEADER.unpack_from(data)
    except struct.error as exc:
        raise StoredValueError(f"table value too short: {len(data)} bytes") from exc
    if version != FORMAT and version not in _LEGACY:
        raise StoredValueError(f"table value format {version} is not {FORMAT}")
    start = _HEADER.size
    state_bytes = data[start : start + state_len]
    state = decode_state(state_bytes)
    try:
        body = orjson.loads(memoryview(data)[start + state_len :])
    except orjson.JSONDecodeError as exc:
        raise StoredValueError(f"verdict memo is not JSON: {exc}") from None
    if version in _LEGACY:
        return Stored(state, (_legacy_entry(row) for row in _rows_of(body)))
    if not isinstance(body, list) or len(body) != 2:
        raise StoredValueError("verdict memo is not [default policy version, entries]")
    default, rows = body
    if default is not None and not isinstance(default, str):
        raise StoredValueError("verdict memo's default policy version is not a string")
    # The bytes are kept only in the current state format: an older one is rewritten as new.
    kept = state_bytes if state_bytes[0] == STATE_FORMAT else None
    return Stored._raw(state, default, tuple(_rows_of(rows)), kept)


def _rows_of(rows: Any) -> list[list[Any]]:
    if not isinstance(rows, list) or not all(
        isinstance(row, list) and len(row) >= _MIN_ROW and isinstance(row[0], str) for row in rows
    ):
        raise StoredValueError("verdict memo entries are not arrays starting with an intent id")
    return rows


def _legacy_entry(row: list[Any]) -> MemoEntry:
    """An entry of format 1 ([id, decision, reason, reasons, decided_at, version]) or 2 (and the
    digest's hex)."""
    try:
        return MemoEntry(
            row[0], row[1], row[2], tuple(row[3]), int(row[4]), row[5],
            bytes.fromhex(row[6]) if len(row) > 6 and row[6] is not None else None,
        )  # fmt: skip
    except (TypeError, ValueError, IndexError) as exc:
        raise StoredValueError(f"malformed verdict memo entry: {exc}") from None
