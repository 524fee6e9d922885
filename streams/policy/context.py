"""The facts one decision is made from: the intent, its recipient's state, the agreements, the
configuration, and derived facts computed at most once and only when a rule asks for them.

Rules read facts from here instead of the raw state, so a new rule (a jurisdiction rule, say) adds a
fact or a grant check without touching the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from streams.policy.config import PolicyConfig
from streams.policy.records import SendIntent
from streams.policy.state import EXPRESS, Agreement, OptOutMark, RecipientState
from streams.policy.times import ONE_MS, epoch_ms

_UNSET: object = object()


@dataclass(frozen=True, slots=True)
class CandidateGrant:
    """A grant later than every opt-out covering this intent: one that may make consent valid."""

    at: int
    basis: str
    confirmed: bool


GrantCheck = Callable[[CandidateGrant, "Context"], "str | None"]


class Context:
    """One intent being decided. Cheap to build; facts are lazy."""

    __slots__ = (
        "_at_ms",
        "_candidates",
        "_confirmable",
        "_covering",
        "_failures",
        "agreements",
        "config",
        "grant_checks",
        "intent",
        "state",
    )

    def __init__(
        self,
        intent: SendIntent,
        state: RecipientState,
        agreements: Mapping[str, Agreement],
        config: PolicyConfig,
        grant_checks: tuple[GrantCheck, ...] = (),
    ) -> None:
        self.intent = intent
        self.state = state
        self.agreements = agreements
        self.config = config
        self.grant_checks = grant_checks
        self._at_ms: int | None = None
        self._covering: object = _UNSET
        self._candidates: tuple[CandidateGrant, ...] | None = None
        self._failures: tuple[str, ...] | None = None
        self._confirmable: object = _UNSET

    @property
    def at_ms(self) -> int:
        """The intent's `at` in epoch milliseconds, the unit of every time in the state."""
        if self._at_ms is None:
            self._at_ms = epoch_ms(self.intent.at)
        return self._at_ms

    @property
    def is_first_party(self) -> bool:
        return self.intent.sender == self.config.first_party

    def covering_channels(self) -> tuple[str, ...]:
        """The channels whose opt-outs cover this intent: its own. (Extension point: the US rule
        that one opt-out covers sms, mms and voice widens this.)"""
        return (self.intent.channel,)

    def covering_optout_at(self) -> int | None:
        """The latest opt-out covering this sender and recipient, or None if there is none."""
        if self._covering is _UNSET:
            latest: int | None = None
            for channel in self.covering_channels():
                at = self.state.covering_optout_at(channel, self.intent.sender)
                if at is not None and (latest is None or at > latest):
                    latest = at
            self._covering = latest
        return self._covering  # type: ignore[return-value]

    def confirmation_window_ms(self) -> int:
        """How long after an opt-out its confirmation may go. (Extension point: the US 5-minute
        rule narrows this by jurisdiction and channel.)"""
        return self.config.optout_confirmation_window // ONE_MS

    def candidate_grants(self) -> tuple[CandidateGrant, ...]:
        """This sender's grants on this channel later than every covering opt-out, oldest first."""
        if self._candidates is None:
            self._candidates = self._find_candidates()
        return self._candidates

    def _find_candidates(self) -> tuple[CandidateGrant, ...]:
        # Same-channel opt-outs already pruned older grants from the state; the floor test here is
        # what makes opt-outs from other covering channels count too.
        line = self.state.consents.get((self.intent.channel, self.intent.sender))
        if line is None:
            return ()
        floor = self.covering_optout_at()
        confirmed_at = line.confirmed_at
        found = [
            CandidateGrant(
                g.at,
                g.basis,
                g.basis == EXPRESS and confirmed_at is not None and g.at <= confirmed_at,
            )
            for g in line.grants
            if floor is None or g.at > floor
        ]
        paired = line.confirmed_grant_at
        if (
            paired is not None
            and (floor is None or paired > floor)
            and not any(c.at == paired and c.basis == EXPRESS for c in found)
        ):
            found.append(CandidateGrant(paired, EXPRESS, True))
            found.sort(key=_at)
        return tuple(found)

    def grant_failures(self) -> tuple[str, ...]:
        """Empty when some candidate grant passes every grant check; else the codes of the latest
        candidate (jurisdictions.md J1). Empty as well when there is no candidate at all."""
        if self._failures is None:
            latest: tuple[str, ...] = ()
            for grant in self.candidate_grants():
                latest = tuple(code for check in self.grant_checks if (code := check(grant, self)))
                if not latest:
                    break
            self._failures = latest
        return self._failures

    def agreement(self) -> Agreement | None:
        return self.agreements.get(self.intent.sender)

    def confirmable_optout(self) -> OptOutMark | None:
        """The opt-out this confirmation intent may confirm: the one it already confirmed (a
        reprocessed intent), else the latest unconfirmed covering opt-out within the window."""
        if self._confirmable is _UNSET:
            self._confirmable = self._find_confirmable()
        return self._confirmable  # type: ignore[return-value]

    def _find_confirmable(self) -> OptOutMark | None:
        intent = self.intent
        window_ms = self.confirmation_window_ms()
        best: OptOutMark | None = None
        for mark in self.state.recent_optouts:
            if mark.channel != intent.channel or (
                mark.party is not None and mark.party != intent.sender
            ):
                continue
            if mark.confirmed_by == intent.id:
                return mark
            if mark.confirmed_by is None and self.at_ms - mark.at <= window_ms:
                best = mark
        return best


def _at(grant: CandidateGrant) -> int:
    return grant.at
