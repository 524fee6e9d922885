"""The gate in memory: records in file order → verdicts, with no Kafka. Used by `consentgate
replay`, and by the streaming tests to compute the verdicts the pipeline must reproduce.

"Before" is line order. Each verdict's `decided_at` is its intent's `at` (for an intent whose `at`
is unreadable, the last readable `at` before it), so replaying a file twice prints the same bytes.
Blank lines are skipped; any other line that cannot be used yields a LineError and the replay goes
on. An invalid intent whose id is readable yields both a LineError and its INVALID_INTENT verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streams.policy.config import PolicyConfig
from streams.policy.engine import decide, invalid_verdict
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
                verdict = invalid_verdict(exc.record_id, exc, self.config, obj, now=self._clock)
                return [error, verdict]
            return [error]
        if isinstance(record, SendIntent):
            decision = decide(
                record, self.states.get(record.address), self.agreements, self.config, now=record.at
            )
            if decision.new_state is not None:
                self.states[record.address] = decision.new_state
            return [decision.verdict]
        if isinstance(record, PartnerRecord):
            self.agreements = self.agreements.apply(record)
        elif isinstance(record, ConsentRecord | OptOutRecord):
            self.states[record.address] = apply(
                self.states.get(record.address), record, self.config
            )
        return []

    def _tick(self, at: object) -> None:
        with suppress(ValueError):
            self._clock = parse_instant(at, "at")


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
