"""The gate in memory: records in file order → verdicts, with no Kafka. Used by `consentgate
replay`, and by the streaming tests to compute the verdicts the pipeline must reproduce.

"Before" is line order. Each verdict's `decided_at` is its intent's `at` (for an intent whose `at`
is unreadable, the last readable `at` before it), so replaying a file twice prints the same bytes.
Blank lines are skipped; any other line that cannot be used yields a LineError and the replay goes
on. An invalid intent whose id is readable yields both a LineError and its INVALID_INTENT verdict.

Intent ids are verdict keys. An intent repeated with the same content (a redelivery) gets its first
verdict again and changes no state; one reusing an id with different content is denied
INVALID_INTENT with a LineError, and the id keeps its first verdict for later redeliveries. This
is what the Kafka gate's verdict memo does (keyed by `engine.intent_digest`).

A file has no receipt times: an opt-out or revocation whose `at` is unreadable is applied with
none, so it takes effect from the latest instant there is (state.apply: the strictest reading).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import blake2b
from typing import Any

import orjson

from streams.policy.config import PolicyConfig
from streams.policy.engine import decide, intent_digest, invalid_verdict
from streams.policy.errors import InvalidRecord
from streams.policy.records import (
    ConsentRecord,
    OptOutRecord,
    PartnerRecord,
    SendIntent,
    Verdict,
    parse_record,
)
from streams.policy.state import Agreements, RecipientState, apply
from streams.policy.times import EPOCH, parse_instant


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
    _clock: datetime = field(default=EPOCH, init=False, repr=False)

    def feed_line(self, text: str | bytes, line: int) -> list[Verdict | LineError]:
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return [LineError(line, f"not JSON: {exc}")]
        return self.feed(obj, line)

    def feed(self, obj: Any, line: int) -> list[Verdict | LineError]:
        """Apply one record, or decide it if it is an intent."""
        if isinstance(obj, Mapping):
            self._tick(obj.get("at"))
        try:
            record = parse_record(obj)
        except InvalidRecord as exc:
            error = LineError(line, exc.message, exc.record_id, exc.kind)
            if exc.kind == SendIntent.KIND and exc.record_id is not None:
                digest = _raw_digest(obj)
                first = self._recall(exc.record_id, digest, line)
                if first is not None:
                    return [error, *first]
                verdict = invalid_verdict(exc.record_id, exc, self.config, obj, now=self._clock)
                self.decided[exc.record_id] = (digest, verdict)
                return [error, verdict]
            return [error]
        if isinstance(record, SendIntent):
            digest = intent_digest(record)
            first = self._recall(record.id, digest, line, record)
            if first is not None:
                return first
            decision = decide(
                record, self.states.get(record.address), self.agreements, self.config, now=record.at
            )
            if decision.new_state is not None:
                self.states[record.address] = decision.new_state
            self.decided[record.id] = (digest, decision.verdict)
            return [decision.verdict]
        if isinstance(record, PartnerRecord):
            self.agreements = self.agreements.apply(record)
        elif isinstance(record, ConsentRecord | OptOutRecord):
            self.states[record.address] = apply(
                self.states.get(record.address), record, self.config
            )
        return []

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
        message = "intent id already used by an intent with different content"
        at = intent.at if intent is not None else self._clock
        verdict = invalid_verdict(intent_id, message, self.config, _echo(intent), now=at)
        return [LineError(line, message, intent_id, SendIntent.KIND), verdict]

    def _tick(self, at: object) -> None:
        with suppress(ValueError):
            self._clock = parse_instant(at, "at")


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
    lines: Iterable[str | bytes], config: PolicyConfig | None = None
) -> Iterator[Verdict | LineError]:
    """Verdicts (and line errors) for JSON lines, in order. Lines are numbered from 1."""
    replay = Replay(config or PolicyConfig())
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        yield from replay.feed_line(text, number)


def replay_objects(
    records: Iterable[Any], config: PolicyConfig | None = None
) -> Iterator[Verdict | LineError]:
    """The same for records already decoded (dicts with `type`), numbered from 1."""
    replay = Replay(config or PolicyConfig())
    for number, obj in enumerate(records, start=1):
        yield from replay.feed(obj, number)
