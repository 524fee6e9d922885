"""The gate in memory: records in file order → verdicts, with no Kafka. Used by `consentgate
replay`, and by the streaming tests to compute the verdicts the pipeline must reproduce.

"Before" is line order. Each verdict's `decided_at` is its intent's `at` (for an intent whose `at`
is unreadable, the last readable `at` before it), so replaying a file twice prints the same bytes.
Blank lines are skipped; any other line that cannot be used yields a LineError and the replay goes
on. An invalid intent whose id is readable yields both a LineError and its INVALID_INTENT verdict.

Reading a line (`read_line`, issue 11 §7): a UTF-8 byte-order mark before it is dropped (editors
put one at the start of a file). An object with the same key twice, at any depth (`evidence`
too), makes the line unreadable, as text that is not JSON does: no record, no verdict, a LineError
naming the key. Which of two values was meant cannot be told, and taking the last (as JSON parsers
do) would let a second `channel` or `at` slip past whoever checked the first. orjson does not see
duplicates, so a cheap count (every key ends in `"` then `:`; a string can only add matches) picks
the lines that need the slow check with the standard library's parser.

Intents are validated against the jurisdiction table the config names (`table_for`), so a country
only an override file adds is a jurisdiction like any other. An unexpected error on one record
(a bug) does not stop the replay either: it yields a LineError and, for an intent whose id reads,
a GATE_ERROR deny, as the Kafka gate does.

Intent ids are verdict keys. An intent repeated with the same content (a redelivery) gets its first
verdict again and changes no state; one reusing an id with different content is denied
INVALID_INTENT with a LineError, and the id keeps its first verdict for later redeliveries. This
is what the Kafka gate's verdict memo does (keyed by `engine.intent_digest`).

A file has no receipt times: an opt-out or revocation whose `at` is unreadable is applied with
none, so it takes effect from the latest instant there is (state.apply: the strictest reading).

Complaints (issue 15 §4, complaints.py). A `complaint` line is applied as the opt-out it is and
opens a complaint with its acknowledgement deadline; a `complaint_ack` line acknowledges one. The
replay clock is the latest `at` read so far on any line (a record, valid or not, or a `clock`
line: `{"type": "clock", "at": "..."}`, which carries nothing else and only moves the clock).
After each line, every open complaint whose deadline the clock has reached, unacknowledged by
then, yields its `COMPLAINT_ACK_OVERDUE` Violation, exactly once per complaint. A complaint with
an unreadable `at` counts from the clock when it is read. A file without complaints yields
exactly what it did before.

Erasure (issue 15 §6, erasure.py). An `erasure` line forgets the recipient's state and keeps
its marker, keyed here by the normalized address (the replay keeps nothing once it ends, so a
pseudonym would protect nothing); later intents to that address are decided on
`erasure.erased_view`, as the gate does. It prints nothing: the audit entry is the gate's, on
the ledger. An erasure whose `at` is unreadable takes effect from the replay clock (from the
latest instant there is when no `at` was read yet: the strictest reading).

Deliveries (issue 15 §5, deliveries.py). A `delivery` line is reconciled at once against the
verdict its `intent_id` got earlier in the file (the first verdict for that id; none yet: no
allow) and yields its SENT_WITHOUT_ALLOW or SENT_AFTER_DENY Violation, at most one per intent id
and rule. Recipients are compared by normalized address; an unreadable `at` is the clock.

Late opt-outs (issue 15 §5, late_optouts.py). The replay keeps the newest RECALLED verdicts per
recipient, as the gate's memo does; an `optout` or `complaint` line that changes its recipient's
state yields a LATE_OPTOUT Violation for each allowed promotional intent among them that it
would have denied (dated at or before the intent, covering its sender and channel). A line
repeating an opt-out yields nothing again. An opt-out whose `at` is unreadable takes effect from
the latest instant there is, so it is never late.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from hashlib import blake2b
from typing import Any, Final

import orjson

from streams.policy.complaints import OpenComplaint, acknowledge, overdue, receive
from streams.policy.config import PolicyConfig
from streams.policy.deliveries import OK, Delivered, IntentOutcome, classify
from streams.policy.deliveries import violation as delivery_violation
from streams.policy.engine import decide, intent_digest, invalid_verdict, unchecked_verdict
from streams.policy.erasure import ErasureMarker, erased_view, kept, mark
from streams.policy.errors import InvalidRecord, excerpt
from streams.policy.jurisdictions import JurisdictionTable, table_for
from streams.policy.late_optouts import RECALLED, Decided, decided, late_optouts
from streams.policy.pseudonym import Pseudonyms
from streams.policy.reasons import GATE_ERROR
from streams.policy.records import (
    ComplaintAckRecord,
    ComplaintRecord,
    ConsentRecord,
    DeliveryRecord,
    ErasureRecord,
    OptOutRecord,
    PartnerRecord,
    SendIntent,
    Verdict,
    Violation,
    parse_record,
)
from streams.policy.state import EMPTY_STATE, Agreements, RecipientState, apply, complaint
from streams.policy.times import EPOCH, MAX_MS, epoch_ms, parse_instant

REUSED_ID: Final = "intent id already used by an intent with different content"
CLOCK: Final = "clock"  # the `type` of a line that only advances the replay clock
_BOM: Final = "\ufeff"
_BOM_BYTES: Final = _BOM.encode()
_KEY_END_BYTES: Final = re.compile(rb'"[ \t\r\n]*:')
_KEY_END_TEXT: Final = re.compile(r'"[ \t\r\n]*:')
_CONTAINERS: Final = (dict, list)


class UnreadableLine(ValueError):
    """A line that is not one JSON value the replay can trust."""


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def read_line(text: str | bytes) -> Any:
    """The JSON value of one line, without a leading byte-order mark. UnreadableLine when it is not
    JSON or an object in it has a key twice."""
    text = _without_bom(text)
    if isinstance(text, bytes):
        key_ends = len(_KEY_END_BYTES.findall(text))
    else:
        key_ends = len(_KEY_END_TEXT.findall(text))
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise UnreadableLine(f"not JSON: {exc}") from None
    if key_ends > _keys_in(value):  # a key twice, or a string holding `":`: look closer
        _check_duplicates(text)
    return value


def _without_bom(text: str | bytes) -> str | bytes:
    if isinstance(text, bytes):
        return text.removeprefix(_BOM_BYTES)
    return text.removeprefix(_BOM)


def _keys_in(value: Any) -> int:
    """How many keys the objects in `value` hold, all depths (iterative: JSON may nest deeper
    than Python recurses)."""
    count, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            count += len(item)
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        for child in children:
            if isinstance(child, _CONTAINERS):
                pending.append(child)
    return count


def _check_duplicates(text: str | bytes) -> None:
    try:
        json.loads(text, object_pairs_hook=_unique)
    except _DuplicateKey as exc:
        raise UnreadableLine(f"duplicate key {excerpt(exc.key)}") from None
    except (ValueError, RecursionError):  # orjson read it, the standard library cannot
        raise UnreadableLine("cannot be checked for duplicate keys") from None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


@dataclass(frozen=True, slots=True)
class LineError:
    """A line the replay could not use, and why."""

    line: int
    message: str
    record_id: str | None = None
    kind: str | None = None

    def __str__(self) -> str:
        about = " ".join(part for part in (self.kind, self.record_id) if part)
        return f"line {self.line}: {about + ': ' if about else ''}{self.message}"


@dataclass
class Replay:
    """Recipient states and agreements built from the records fed so far."""

    config: PolicyConfig
    states: dict[str, RecipientState] = field(default_factory=dict)
    agreements: Agreements = field(default_factory=Agreements)
    decided: dict[str, tuple[bytes, Verdict]] = field(default_factory=dict)
    complaints: dict[str, OpenComplaint] = field(default_factory=dict)
    erased: dict[str, ErasureMarker] = field(default_factory=dict)  # by normalized address
    pseudonyms: Pseudonyms | None = None  # when given, verdicts carry recipient_ref
    outcomes: dict[str, IntentOutcome] = field(default_factory=dict)  # first verdict per id
    delivery_violations: set[str] = field(default_factory=set)  # ids of those filed
    history: dict[str, tuple[Decided, ...]] = field(default_factory=dict)  # late opt-outs
    table: JurisdictionTable = field(init=False, repr=False)
    _clock: datetime = field(default=EPOCH, init=False, repr=False)
    _horizon: datetime = field(default=EPOCH, init=False, repr=False)  # the latest `at` read

    def __post_init__(self) -> None:
        self.table = table_for(self.config)

    def feed_line(self, text: str | bytes, line: int) -> list[Verdict | LineError | Violation]:
        """Read one line and feed its record (nothing for a blank line)."""
        text = _without_bom(text)
        if not text.strip():
            return []
        try:
            obj = read_line(text)
        except UnreadableLine as exc:
            return [LineError(line, str(exc))]
        return self.feed(obj, line)

    def feed(self, obj: Any, line: int) -> list[Verdict | LineError | Violation]:
        """Apply one record, or decide it if it is an intent; then the complaints it made
        overdue (module doc)."""
        results: list[Verdict | LineError | Violation]
        try:
            if isinstance(obj, Mapping) and obj.get("type") == CLOCK:
                results = self._clock_line(obj, line)
            else:
                results = list(self._feed(obj, line))
        except Exception as exc:  # a bug must not stop the replay: fail closed, as the gate does
            results = list(self._failed(obj, line, exc))
        for item in results:  # every verdict counts for deliveries, GATE_ERROR ones too
            if isinstance(item, Verdict):
                self._note(item, None)
        if self.complaints:
            results += self.overdue()
        return results

    def overdue(self) -> list[Violation]:
        """The violations due at the replay clock, each marked emitted."""
        due = overdue(self.complaints.values(), self._horizon)
        for entry in due:
            self.complaints[entry.complaint_id] = entry.with_violation()
        return [entry.violation(self.config.policy_version) for entry in due]

    def _clock_line(
        self, obj: Mapping[str, Any], line: int
    ) -> list[Verdict | LineError | Violation]:
        try:
            self._tick(parse_instant(obj.get("at"), "at"))
        except ValueError as exc:
            return [LineError(line, f"{exc}: the clock stays at its last time", kind=CLOCK)]
        return []

    def _feed(self, obj: Any, line: int) -> Sequence[Verdict | LineError | Violation]:
        if isinstance(obj, Mapping):
            self._tick(obj.get("at"))
        try:
            record = parse_record(obj, table=self.table)
        except InvalidRecord as exc:
            error = LineError(line, exc.message, exc.record_id, exc.kind)
            if exc.kind == SendIntent.KIND and exc.record_id is not None:
                digest = _raw_digest(obj)
                first = self._recall(exc.record_id, digest, line)
                if first is not None:
                    return [error, *first]
                verdict = invalid_verdict(exc.record_id, exc, self.config, obj, now=self._clock)
                self.decided[exc.record_id] = (digest, verdict)
                self._note(verdict, None)
                return [error, verdict]
            return [error]
        if isinstance(record, SendIntent):
            digest = intent_digest(record)
            first = self._recall(record.id, digest, line, record)
            if first is not None:
                return first
            state = self.states.get(record.address)
            marker = self.erased.get(record.address)
            view = (
                state if marker is None else erased_view(state, marker, record.channel, self.config)
            )
            decision = decide(record, view, self.agreements, self.config, now=record.at)
            if decision.new_state is not None:
                self.states[record.address] = (
                    decision.new_state if marker is None or view is None
                    else kept(decision.new_state, view, state or EMPTY_STATE)
                )  # fmt: skip
            verdict = decision.verdict
            if self.pseudonyms is not None:
                verdict = replace(verdict, recipient_ref=self.pseudonyms.ref(record.address))
            self.decided[record.id] = (digest, verdict)
            self._note(verdict, record.address)
            self._remember(verdict, record)
            return [verdict]
        if isinstance(record, DeliveryRecord):
            return self._delivery(record)
        if isinstance(record, ComplaintRecord):
            before = self.states.get(record.address)
            self.states[record.address] = complaint(before, record, self.config)
            received = None if self._horizon == EPOCH else self._horizon
            self.complaints[record.id] = receive(self.complaints.get(record.id), record, received)
            return self._late(record.as_optout(), before)
        if isinstance(record, ComplaintAckRecord):
            cid = record.complaint_id
            self.complaints[cid] = acknowledge(self.complaints.get(cid), record)
            return []
        if isinstance(record, ErasureRecord):
            clock = MAX_MS if self._horizon == EPOCH else epoch_ms(self._horizon)
            at_ms = clock if record.at is None else record.at_ms
            erased = self.states.pop(record.address, None)
            self.erased[record.address] = mark(
                self.erased.get(record.address), at_ms, record.id, erased
            )
            return []
        if isinstance(record, PartnerRecord):
            self.agreements = self.agreements.apply(record)
        elif isinstance(record, ConsentRecord | OptOutRecord):
            before = self.states.get(record.address)
            self.states[record.address] = apply(before, record, self.config)
            if isinstance(record, OptOutRecord):
                return self._late(record, before)
        return []

    def _remember(self, verdict: Verdict, intent: SendIntent) -> None:
        """Keep the verdict in the recipient's history, newest RECALLED, as the gate's memo."""
        entries = self.history.get(intent.address, ())
        self.history[intent.address] = (*entries, decided(verdict, intent))[-RECALLED:]

    def _late(self, optout: OptOutRecord, before: RecipientState | None) -> list[Violation]:
        """The LATE_OPTOUT violations of an opt-out that changed its recipient's state (a
        redelivered one changes nothing and raises nothing again; late_optouts.py)."""
        history = self.history.get(optout.address)
        if not history or self.states.get(optout.address) == before:
            return []
        ref = None if self.pseudonyms is None else self.pseudonyms.ref(optout.address)
        return late_optouts(history, optout, self.config, recipient_ref=ref)

    def _note(self, verdict: Verdict, address: str | None) -> None:
        if verdict.id not in self.outcomes:
            self.outcomes[verdict.id] = IntentOutcome.of(verdict, address)

    def _delivery(self, record: DeliveryRecord) -> list[Violation]:
        outcome = self.outcomes.get(record.intent_id)
        delivery = Delivered.of(
            record, self.pseudonyms, received_at=self._horizon, keep_address=True
        )
        rule = classify(outcome, delivery)
        violation_id = f"{record.intent_id}:{rule}"
        if rule == OK or violation_id in self.delivery_violations:
            return []
        self.delivery_violations.add(violation_id)
        version = self.config.policy_version
        return [delivery_violation(record.intent_id, rule, outcome, delivery, version)]

    def _recall(
        self, intent_id: str, digest: bytes, line: int, intent: SendIntent | None = None
    ) -> list[Verdict | LineError] | None:
        """None for an id not decided yet; else the first verdict (same content) or the deny for
        an id reused with different content."""
        seen = self.decided.get(intent_id)
        if seen is None:
            return None
        if seen[0] == digest:
            return [seen[1]]
        at = intent.at if intent is not None else self._clock
        verdict = invalid_verdict(intent_id, REUSED_ID, self.config, _echo(intent), now=at)
        return [LineError(line, REUSED_ID, intent_id, SendIntent.KIND), verdict]

    def _failed(self, obj: Any, line: int, exc: Exception) -> list[Verdict | LineError]:
        message = f"internal error ({type(exc).__name__}): the record could not be evaluated"
        raw = obj if isinstance(obj, Mapping) else {}
        intent_id = raw.get("id")
        if raw.get("type") != SendIntent.KIND or not isinstance(intent_id, str) or not intent_id:
            return [LineError(line, message)]
        detail = "the gate could not evaluate this intent"
        verdict = unchecked_verdict(
            intent_id, GATE_ERROR, detail, self.config, raw, now=self._clock
        )
        return [LineError(line, message, intent_id, SendIntent.KIND), verdict]

    def _tick(self, at: object) -> None:
        with suppress(ValueError):
            self._clock = parse_instant(at, "at")
            self._horizon = max(self._horizon, self._clock)


def _raw_digest(obj: Any) -> bytes:
    """A digest of an intent that did not validate: its JSON, keys sorted (only ever compared with
    other digests of the same kind: a valid intent's digest is never equal to it)."""
    try:
        canonical = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS, default=repr)
    except TypeError:
        canonical = repr(obj).encode()
    return b"raw:" + blake2b(canonical, digest_size=16).digest()


def _echo(intent: SendIntent | None) -> dict[str, Any] | None:
    """The fields an INVALID_INTENT verdict echoes, from an intent that did validate."""
    if intent is None:
        return None
    return {"channel": intent.channel, "sender": intent.sender, "category": intent.category,
            "at": intent.at}  # fmt: skip


def replay_records(
    lines: Iterable[str | bytes],
    config: PolicyConfig | None = None,
    pseudonyms: Pseudonyms | None = None,
) -> Iterator[Verdict | LineError | Violation]:
    """Verdicts (and line errors) for JSON lines, in order. Lines are numbered from 1.
    `pseudonyms`: verdicts name their recipient by pseudonym (none without)."""
    replay = Replay(config or PolicyConfig(), pseudonyms=pseudonyms)
    for number, text in enumerate(lines, start=1):
        yield from replay.feed_line(text, number)


def replay_objects(
    records: Iterable[Any], config: PolicyConfig | None = None
) -> Iterator[Verdict | LineError | Violation]:
    """The same for records already decoded (dicts with `type`), numbered from 1."""
    replay = Replay(config or PolicyConfig())
    for number, obj in enumerate(records, start=1):
        yield from replay.feed(obj, number)
