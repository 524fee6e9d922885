"""Erasure (issue 15 §6): a person's consent state is removed, and a keyed hash of their address
is kept so that they stay opted out.

What is kept is an **erasure marker**: under a key that can never be a normalized address
(`MARKER_PREFIX` + the address's keyed pseudonym, pseudonym.py), the erasure's `at` and request
id. Nothing else about the person survives in the state: not the address, not the evidence.

Deciding with a marker (`erased_view`): the intent is decided on the recipient's state as if it
held an opt-out from every party on the intent's channel, dated at the marker's `at`, with id
`erasure:<request id>` (`optout_id`). It goes through `state.apply`, so the engine's rules stay
untouched and the contract's rule decides: a promotional intent is denied OPTED_OUT unless a
grant dated after the erasure counts (a person may consent anew); a transactional or legal one
is decided as usual. The synthesized opt-out gets no confirmable mark: an erasure is not an
opt-out made on a channel, so no `optout_confirmation` may go out for it. Only the intent's view
changes: `kept` takes what a decision changed (an opt-out confirmation remembered) back onto the
stored state, so the synthesized opt-out is never written.

The marker's `at` (`mark`) is the latest of the erasure's `at`, the opt-outs the erased state held
(so erasing never ends an opt-out sooner than it would have held) and the marker already there
(a redelivered or older request never moves it back). Pure: no I/O, no keys (callers pass refs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import orjson

from streams.policy.config import PolicyConfig
from streams.policy.records import OptOutRecord
from streams.policy.state import EMPTY_STATE, RecipientState, apply
from streams.policy.times import epoch_ms, from_epoch_ms

# \x00 never starts a normalized address (control characters are refused in every channel).
MARKER_PREFIX: Final = b"\x00erased:"
OPTOUT_PREFIX: Final = "erasure:"
_FORMAT: Final = 1
_METHOD: Final = "dpo_request"


class MarkerError(ValueError):
    """Bytes that are not an erasure marker this version can read."""


@dataclass(frozen=True, slots=True)
class ErasureMarker:
    """When the erasure took effect (epoch ms) and which request made it."""

    at_ms: int
    request_id: str

    @property
    def optout_id(self) -> str:
        """The id a deny names as its covering opt-out: the request, never the person."""
        return OPTOUT_PREFIX + self.request_id


def marker_key(ref: str) -> bytes:
    """The table key of the marker of the address whose pseudonym is `ref`."""
    return MARKER_PREFIX + ref.encode("ascii")


def encode_marker(marker: ErasureMarker) -> bytes:
    return bytes([_FORMAT]) + orjson.dumps([marker.at_ms, marker.request_id])


def decode_marker(data: bytes) -> ErasureMarker:
    if not data or data[0] != _FORMAT:
        raise MarkerError(f"unknown erasure marker format {data[:1]!r}")
    try:
        at_ms, request_id = orjson.loads(memoryview(data)[1:])
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise MarkerError(f"malformed erasure marker: {exc}") from None
    if not isinstance(at_ms, int) or not isinstance(request_id, str):
        raise MarkerError("malformed erasure marker: not (at, id)")
    return ErasureMarker(at_ms, request_id)


def mark(
    existing: ErasureMarker | None, at_ms: int, request_id: str, erased: RecipientState | None
) -> ErasureMarker:
    """The marker after an erasure at `at_ms` of `erased` (module doc: the latest time wins;
    `existing` itself when it is already as late)."""
    latest = max((at_ms, *(erased.optouts.values() if erased is not None else ())))
    if existing is not None and existing.at_ms >= latest:
        return existing
    return ErasureMarker(latest, request_id)


def erased_view(
    state: RecipientState | None, marker: ErasureMarker, channel: str, config: PolicyConfig
) -> RecipientState:
    """The state to decide an intent on `channel` with, for a recipient erased by `marker`."""
    base = EMPTY_STATE if state is None else state
    optout = OptOutRecord(
        id=marker.optout_id,
        at=from_epoch_ms(marker.at_ms),
        channel=channel,
        address="",  # the state is one address's already; apply does not read it
        party=None,
        method=_METHOD,
        jurisdiction=None,
    )
    applied = apply(base, optout, config)
    if applied is base:
        return base
    return dataclasses.replace(applied, recent_optouts=base.recent_optouts)


def kept(decided: RecipientState, view: RecipientState, stored: RecipientState) -> RecipientState:
    """What to store after deciding on `view` (an `erased_view` of `stored`): `stored`, with
    the opt-out confirmations the decision remembered (the only change decide() makes)."""
    if decided is view or decided.recent_optouts == stored.recent_optouts:
        return stored
    return dataclasses.replace(stored, recent_optouts=decided.recent_optouts)


def effective_ms(at: datetime | None, received_at: datetime) -> int:
    """Epoch ms an erasure takes effect: its `at`, else when it was received."""
    return epoch_ms(at if at is not None else received_at)
