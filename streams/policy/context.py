"""The facts one decision is made from: the intent, its recipient's state, the agreements, the
configuration and jurisdiction table, and derived facts computed at most once and only when a rule
asks for them.

Rules read facts from here instead of the raw state, so a new rule (a jurisdiction rule, say) adds a
fact or a grant check without touching the others. Three extension points take hooks from rule
modules: grant checks (a condition every consent grant must meet: double opt-in, basis, lapse),
coverage (which channels' opt-outs cover this intent: J3) and the confirmation window (J4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from streams.policy.addresses import PHONE_CHANNELS
from streams.policy.config import PolicyConfig
from streams.policy.jurisdictions import Jurisdiction, JurisdictionTable, combined, table_for
from streams.policy.recipient import LocalTime, number_facts, zones_for
from streams.policy.records import SendIntent
from streams.policy.state import EXPRESS, Agreement, OptOutMark, RecipientState
from streams.policy.times import ONE_MS, epoch_ms, format_instant, local_time

_UNSET: object = object()


class CandidateGrant(NamedTuple):
    """A grant later than every opt-out covering this intent: one that may make consent valid.
    (A named tuple: built for every consent-checked intent, and far cheaper than a frozen
    dataclass.)"""

    at: int
    basis: str
    confirmed: bool
    id: str | None = None
    confirm_id: str | None = None


@dataclass(frozen=True, slots=True)
class CoveringOptOut:
    """The opt-out that covers this intent, latest first: on which channel, from whom, when."""

    at: int
    channel: str
    party: str | None


GrantCheck = Callable[[CandidateGrant, "Context"], "str | None"]
CoverageHook = Callable[["Context"], "tuple[str, ...] | None"]
WindowHook = Callable[["Context"], "int | None"]


class Provenance(Protocol):
    """Record ids for what the state remembers only by time: (kind, channel, party, at) → id,
    kind being `grant`, `confirm` or `optout`. Only the explanation path has one."""

    def __call__(self, kind: str, channel: str, party: str | None, at_ms: int) -> str | None: ...


class Context:
    """One intent being decided. Cheap to build; facts are lazy."""

    __slots__ = (
        "_at_ms",
        "_candidates",
        "_channels",
        "_chosen",
        "_confirmable",
        "_covering",
        "_failures",
        "_jurisdiction",
        "_local",
        "agreements",
        "config",
        "confirmation_hooks",
        "coverage_hooks",
        "grant_checks",
        "intent",
        "notes",
        "provenance",
        "state",
        "table",
    )

    def __init__(
        self,
        intent: SendIntent,
        state: RecipientState,
        agreements: Mapping[str, Agreement],
        config: PolicyConfig,
        grant_checks: tuple[GrantCheck, ...] = (),
        *,
        table: JurisdictionTable | None = None,
        coverage_hooks: tuple[CoverageHook, ...] = (),
        confirmation_hooks: tuple[WindowHook, ...] = (),
        provenance: Provenance | None = None,
    ) -> None:
        self.intent = intent
        self.state = state
        self.agreements = agreements
        self.config = config
        self.grant_checks = grant_checks
        self.table = table_for(config) if table is None else table
        self.coverage_hooks = coverage_hooks
        self.confirmation_hooks = confirmation_hooks
        self.provenance = provenance
        self.notes: list[str] | None = None
        self._at_ms: int | None = None
        self._covering: object = _UNSET
        self._candidates: tuple[CandidateGrant, ...] | None = None
        self._failures: tuple[str, ...] | None = None
        self._chosen: CandidateGrant | None = None
        self._confirmable: object = _UNSET
        self._jurisdiction: object = _UNSET
        self._channels: tuple[str, ...] | None = None
        self._local: object = _UNSET

    @property
    def at_ms(self) -> int:
        """The intent's `at` in epoch milliseconds, the unit of every time in the state."""
        if self._at_ms is None:
            self._at_ms = epoch_ms(self.intent.at)
        return self._at_ms

    @property
    def is_first_party(self) -> bool:
        return self.intent.sender == self.config.first_party

    def note(self, text: str) -> None:
        """Say why, for the verdict's `detail` (used where a code alone would not tell)."""
        if self.notes is None:
            self.notes = [text]
        else:
            self.notes.append(text)

    def ref(self, kind: str, channel: str, party: str | None, at_ms: int) -> str | None:
        """The id of the record behind a state entry, when the caller knows it."""
        if self.provenance is None:
            return None
        return self.provenance(kind, channel, party, at_ms)

    # -- the jurisdiction

    def jurisdiction(self) -> Jurisdiction | None:
        """The table's entry for the intent's jurisdiction; where a phone number's own country
        differs and is in the table, the stricter union of both (jurisdictions.combined: a
        declared field never switches a rule off). None only for a jurisdiction the table lacks,
        which parse_record refuses."""
        if self._jurisdiction is _UNSET:
            codes = self.jurisdiction_codes()
            if len(codes) == 2:
                self._jurisdiction = combined(self.table, codes[0], codes[1])
            else:
                self._jurisdiction = self.table.entries.get(self.intent.jurisdiction)
        return self._jurisdiction  # type: ignore[return-value]

    def jurisdiction_codes(self) -> tuple[str, ...]:
        """The countries whose rules apply, declared first: the intent's jurisdiction, and a
        phone number's own country when it differs and the table has it."""
        intent = self.intent
        entries = self.table.entries
        if intent.jurisdiction not in entries:
            return ()
        if intent.channel in PHONE_CHANNELS:
            other = number_facts(intent.address).country
            if other is not None and other != intent.jurisdiction and other in entries:
                return (intent.jurisdiction, other)
        return (intent.jurisdiction,)

    def jurisdictions(self) -> tuple[Jurisdiction, ...]:
        """The table entries of `jurisdiction_codes`, each checked on its own by the rules that
        must hold in every one of them (consent basis, lapse)."""
        entries = self.table.entries
        return tuple(entries[code] for code in self.jurisdiction_codes())

    def subdivision_code(self) -> str | None:
        """The recipient's ISO 3166-2 subdivision: the intent's `region`, else the state or
        province of a US or Canadian number's area code; None when it cannot be told."""
        intent = self.intent
        if intent.region is not None:
            return intent.region
        if intent.channel in PHONE_CHANNELS:
            return number_facts(intent.address).subdivision
        return None

    def subdivision(self) -> tuple[str | None, str]:
        """The subdivision and, in words, how it was told (for explanations)."""
        intent = self.intent
        if intent.region is not None:
            return intent.region, "the intent's region"
        if intent.channel in PHONE_CHANNELS:
            facts = number_facts(intent.address)
            if facts.subdivision is not None:
                return facts.subdivision, f"the number's area code, {facts.description!r}"
            return None, "the number's area code names no state or province"
        return None, f"an address on {intent.channel} names no state"

    def zones(self) -> tuple[tuple[str, ZoneInfo], ...] | str:
        """Every time zone the recipient may be in, by name: the intent's `timezone`, else the
        zones of the number's prefix. A string saying why when that cannot be told."""
        if self._local is _UNSET:
            self._local = self._find_zones()
        return self._local  # type: ignore[return-value]

    def _find_zones(self) -> tuple[tuple[str, ZoneInfo], ...] | str:
        intent = self.intent
        return zones_for(
            intent.channel, intent.address, intent.timezone, intent.channel in PHONE_CHANNELS
        )

    def local_times(self) -> tuple[LocalTime, ...] | str:
        """The intent's `at` on the recipient's clock in every zone they may be in (or why not:
        also when that clock would be outside years 1-9999)."""
        zones = self.zones()
        if isinstance(zones, str):
            return zones
        at = self.intent.at
        found = []
        for name, tz in zones:
            moment = local_time(at, tz)
            if moment is None:
                return f"{format_instant(at)} in {name} is outside years 1-9999"
            found.append(LocalTime(name, moment))
        return tuple(found)

    # -- opt-outs

    def covering_channels(self) -> tuple[str, ...]:
        """The channels whose opt-outs cover this intent: its own, or the group a coverage hook
        names (J3: in the US one opt-out covers sms, mms and voice)."""
        if self._channels is None:
            channels: tuple[str, ...] | None = None
            for hook in self.coverage_hooks:
                channels = hook(self)
                if channels:
                    break
            self._channels = channels or (self.intent.channel,)
        return self._channels

    def covering_optout_at(self) -> int | None:
        """The latest opt-out covering this sender and recipient, or None if there is none."""
        if self._covering is _UNSET:
            latest: int | None = None
            if not self.state.optouts:  # most recipients never opted out of anything
                self._covering = None
                return None
            for channel in self.covering_channels():
                at = self.state.covering_optout_at(channel, self.intent.sender)
                if at is not None and (latest is None or at > latest):
                    latest = at
            self._covering = latest
        return self._covering  # type: ignore[return-value]

    def covering_optout(self) -> CoveringOptOut | None:
        """Which opt-out `covering_optout_at` is (for explanations; not on the hot path)."""
        best: CoveringOptOut | None = None
        for channel in self.covering_channels():
            for party in (None, self.intent.sender):
                at = self.state.optouts.get((channel, party))
                if at is not None and (best is None or at > best.at):
                    best = CoveringOptOut(at, channel, party)
        return best

    def optout_id(self, optout: CoveringOptOut) -> str | None:
        """The id of an opt-out: from the caller's provenance, else the state's recent marks."""
        found = self.ref("optout", optout.channel, optout.party, optout.at)
        if found is not None:
            return found
        for mark in self.state.recent_optouts:
            if (mark.at, mark.channel, mark.party) == (optout.at, optout.channel, optout.party):
                return mark.id
        return None

    def confirmation_window_ms(self) -> int:
        """How long after an opt-out its confirmation may go: a hook's window for this
        jurisdiction and channel (J4: 5 minutes in the US), else the configured one (24 h)."""
        for hook in self.confirmation_hooks:
            window = hook(self)
            if window is not None:
                return window
        return self.config.optout_confirmation_window // ONE_MS

    # -- consent

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
        latest = line.confirms[-1] if line.confirms else None
        found = [
            CandidateGrant(g.at, g.basis, True, g.id, latest.id)
            if g.basis == EXPRESS and latest is not None and g.at <= latest.at
            else CandidateGrant(g.at, g.basis, False, g.id)
            for g in line.grants
            if floor is None or g.at > floor
        ]
        paired = line.confirmed_grant_at
        if (
            paired is not None
            and latest is not None
            and (floor is None or paired > floor)
            and not any(c.at == paired and c.basis == EXPRESS for c in found)
        ):
            found.append(CandidateGrant(paired, EXPRESS, True, latest.grant_id, latest.id))
            found.sort(key=_at)
        return tuple(found)

    def grant_failures(self) -> tuple[str, ...]:
        """Empty when some candidate grant passes every grant check; else the codes of the latest
        candidate (jurisdictions.md J1). Empty as well when there is no candidate at all."""
        if self._failures is None:
            latest: tuple[str, ...] = ()
            checks = self.grant_checks
            for grant in self.candidate_grants():
                self._chosen = grant
                failed: list[str] | None = None
                for check in checks:
                    code = check(grant, self)
                    if code is not None:
                        failed = [code] if failed is None else [*failed, code]
                if failed is None:
                    latest = ()
                    break
                latest = tuple(failed)
            self._failures = latest
        return self._failures

    def relied_grant(self) -> CandidateGrant | None:
        """The grant the consent decision rests on: the one that passes every grant check, else
        the latest candidate (whose failures `grant_failures` gives); None without candidates."""
        self.grant_failures()
        return self._chosen

    def covering_optout_id(self) -> str | None:
        """The id of the covering opt-out (None when none covers, or its id is not known)."""
        if self.covering_optout_at() is None:
            return None
        found = self.covering_optout()
        if found is None:
            return None
        return self.state.optout_ids.get((found.channel, found.party)) or self.optout_id(found)

    def grant_verdicts(self) -> tuple[tuple[CandidateGrant, tuple[str, ...]], ...]:
        """Every candidate with the codes the grant checks give it (for explanations)."""
        return tuple(
            (grant, tuple(code for check in self.grant_checks if (code := check(grant, self))))
            for grant in self.candidate_grants()
        )

    def agreement(self) -> Agreement | None:
        return self.agreements.get(self.intent.sender)

    # -- opt-out confirmations

    def confirmable_optout(self) -> OptOutMark | None:
        """The opt-out this confirmation intent may confirm: the one it already confirmed (a
        reprocessed intent), else the latest unconfirmed covering opt-out within the window."""
        if self._confirmable is _UNSET:
            self._confirmable = self._find_confirmable()
        return self._confirmable  # type: ignore[return-value]

    def _find_confirmable(self) -> OptOutMark | None:
        intent = self.intent
        channels = self.covering_channels()
        window_ms = self.confirmation_window_ms()
        best: OptOutMark | None = None
        for mark in self.state.recent_optouts:
            if mark.channel not in channels or (
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
