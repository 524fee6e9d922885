"""What the consent table holds per address: the policy state plus the verdicts it produced.

The verdict memo makes reprocessing idempotent. With at-least-once delivery an intent can be
decided again after a crash, and by then later records (an opt-out produced after the intent) may
be in the state; deciding afresh could contradict the verdict already written. The memo lives in
the same table value as the state, so it reaches the changelog in the same write: if the memo was
lost, so was every later change to that address, and re-deciding sees exactly what it saw before.

Each entry carries the intent's content digest (`policy.engine.intent_digest`): the memo repeats
a verdict only for the same intent; an id reused with other content is refused, never answered
with another intent's verdict.

Bounded: the newest `MEMO_SIZE` verdicts per address. A contradiction would need more than that
many intents for one address to be reprocessed at once, far beyond one commit interval's worth.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import orjson

from streams.policy.state import RecipientState, decode_state, encode_state

FORMAT = 2  # 2: memo entries carry the intent's digest; 1 (no digests) is still read
MEMO_SIZE = 32
_HEADER = struct.Struct(">BI")


class StoredValueError(ValueError):
    """A table value this version cannot read."""


@dataclass(frozen=True, slots=True)
class MemoEntry:
    intent_id: str
    decision: str
    reason: str
    reasons: tuple[str, ...]
    decided_at_ms: int
    policy_version: str
    digest: bytes | None = None  # None only in entries written by format 1


@dataclass(frozen=True, slots=True)
class Stored:
    state: RecipientState
    memo: tuple[MemoEntry, ...] = ()

    def recall(self, intent_id: str) -> MemoEntry | None:
        for entry in self.memo:
            if entry.intent_id == intent_id:
                return entry
        return None

    def remember(self, entry: MemoEntry) -> Stored:
        return Stored(self.state, (*self.memo, entry)[-MEMO_SIZE:])

    def with_state(self, state: RecipientState) -> Stored:
        return Stored(state, self.memo)


EMPTY = Stored(RecipientState())


def encode_stored(stored: Stored) -> bytes:
    state = encode_state(stored.state)
    memo = orjson.dumps(
        [
            [
                e.intent_id,
                e.decision,
                e.reason,
                list(e.reasons),
                e.decided_at_ms,
                e.policy_version,
                e.digest.hex() if e.digest is not None else None,
            ]
            for e in stored.memo
        ]
    )
    return _HEADER.pack(FORMAT, len(state)) + state + memo


def decode_stored(data: bytes | None) -> Stored:
    if not data:
        return EMPTY
    try:
        version, state_len = _HEADER.unpack_from(data)
    except struct.error as exc:
        raise StoredValueError(f"table value too short: {len(data)} bytes") from exc
    if version not in (1, FORMAT):
        raise StoredValueError(f"table value format {version} is not {FORMAT}")
    start = _HEADER.size
    state = decode_state(data[start : start + state_len])
    rows = orjson.loads(data[start + state_len :])
    memo = tuple(
        MemoEntry(
            row[0],
            row[1],
            row[2],
            tuple(row[3]),
            int(row[4]),
            row[5],
            bytes.fromhex(row[6]) if len(row) > 6 and row[6] is not None else None,
        )
        for row in rows
    )
    return Stored(state, memo)
