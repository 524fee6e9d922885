"""Late opt-outs (issue 15 §5): an opt-out that arrives after an intent it would have denied was
already allowed. Not the gate's breach (it decided on what it held), but a message may have gone
to someone who had said no, so each is a `LATE_OPTOUT` violation for the compliance team.

`late_optouts(decided, optout, config)` compares one opt-out with the intents decided for its
recipient (the gate's verdict memo; replay's own history, the same bound) and returns one
violation per intent the opt-out would have turned into a deny. An intent qualifies when all hold,
each read exactly as the engine reads it:

- it was **allowed** and its category is **promotional**: the only category whose allow rests on
  consent (engine `_relied_on`). An opt-out does not affect a `transactional` or `legal` allow,
  and it *permits* an `optout_confirmation`;
- the opt-out's `at` is **at or before** the intent's: "as of the intent" an opt-out dated at the
  intent's own instant already covers it (no grant at that instant can outrank it), so it would
  have denied it as well. One dated after the intent is simply later: no incident. An opt-out
  without a readable `at` takes effect from when it was received (`effective_at`), never earlier;
- it covers the intent's **sender** (`party` null: every party; ids canonical) and its
  **channel**, through the same coverage hooks the engine uses (J3: in the US one opt-out on sms,
  mms or voice covers all three; the intent's jurisdiction and number decide, as in `decide`).

Not looked at: whether a grant given after the opt-out (consent given again) would have kept the
intent allowed. The engine rests an allow on the oldest grant that passes every check, and which
later grant would have passed (basis, double opt-in, lapse) depends on what the state held then;
such an intent is reported too. It is an incident for review, where a surplus costs a look at
`consentgate audit` and a miss costs a complaint.

The violation: id `<intent id>:LATE_OPTOUT:<opt-out id>` (the same on every replay and re-send),
keyed by the intent id, `at` and `intent_at` the intent's `at`, `optout_id`/`optout_at` the
opt-out's, severity `medium` (see LATE_OPTOUT_SEVERITY), `policy_version` the one in force.
Pure: the caller decides when to ask (once per opt-out that changed the state, so a redelivered
opt-out raises nothing again) and sends what comes back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, NamedTuple, Protocol

from streams.policy.config import PolicyConfig
from streams.policy.context import Context
from streams.policy.jurisdictions import table_for
from streams.policy.records import OptOutRecord, SendIntent, Verdict, Violation
from streams.policy.rules import COVERAGE_HOOKS
from streams.policy.state import EMPTY_STATE
from streams.policy.times import MAX_MS, MIN_MS, epoch_ms, from_epoch_ms

LATE_OPTOUT: Final = "LATE_OPTOUT"
# For review, not a breach by the gate: below `critical` (a message sent against an opt-out the
# gate held) and `high` (marketing without basis); the law gives days to honour an opt-out (10
# business days under CAN-SPAM and the FCC's 2024 TCPA order), so most late ones are a defect of
# the opt-out's path to the gate, like the consent and notice defects graded `medium`.
LATE_OPTOUT_SEVERITY: Final = "medium"
# How many decided intents per recipient are looked at: the gate's verdict memo keeps the newest
# this many (runtime/stored.py MEMO_SIZE is this), and replay keeps as many.
RECALLED: Final = 32
ALLOW: Final = "allow"
PROMOTIONAL: Final = "promotional"


class DecidedIntent(Protocol):
    """What one remembered verdict must tell (runtime/stored.py MemoEntry and `Decided` do)."""

    @property
    def intent_id(self) -> str: ...
    @property
    def decision(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def intent_at_ms(self) -> int | None: ...
    @property
    def sender(self) -> str | None: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def jurisdiction(self) -> str | None: ...


class Decided(NamedTuple):
    """One decided intent as replay remembers it (the fields of the gate's memo entry that
    `late_optouts` reads)."""

    intent_id: str
    decision: str
    category: str | None
    intent_at_ms: int | None
    sender: str | None
    channel: str | None
    jurisdiction: str | None


def decided(verdict: Verdict, intent: SendIntent) -> Decided:
    """The history entry for `verdict` on `intent`."""
    return Decided(
        intent.id, verdict.decision, verdict.category,
        None if verdict.intent_at is None else epoch_ms(verdict.intent_at), verdict.sender,
        verdict.channel, intent.jurisdiction,
    )  # fmt: skip


def late_optouts(
    decided: Iterable[DecidedIntent],
    optout: OptOutRecord,
    config: PolicyConfig,
    *,
    recipient_ref: str | None = None,
) -> list[Violation]:
    """The LATE_OPTOUT violations `optout` raises against the intents `decided` for its recipient
    (module doc), in the order given. `optout.at` None (unreadable, no receipt time): none."""
    optout_at = optout.at_ms
    if optout.at is None or optout_at >= MAX_MS:
        return []
    found: list[Violation] = []
    seen: set[str] = set()
    for entry in decided:
        if not _qualifies(entry, optout, optout_at, config) or entry.intent_id in seen:
            continue
        seen.add(entry.intent_id)
        assert entry.intent_at_ms is not None
        intent_at = from_epoch_ms(entry.intent_at_ms)
        found.append(
            Violation(
                id=f"{entry.intent_id}:{LATE_OPTOUT}:{optout.id}",
                intent_id=entry.intent_id,
                sender=entry.sender,
                channel=entry.channel,
                rule=LATE_OPTOUT,
                severity=LATE_OPTOUT_SEVERITY,
                at=intent_at,
                reasons=(LATE_OPTOUT,),
                policy_version=config.policy_version,
                recipient_ref=recipient_ref,
                intent_at=intent_at,
                optout_id=optout.id,
                optout_at=from_epoch_ms(optout_at),
            )
        )
    return found


def _qualifies(
    entry: DecidedIntent, optout: OptOutRecord, optout_at: int, config: PolicyConfig
) -> bool:
    intent_at = entry.intent_at_ms
    if (
        entry.decision != ALLOW
        or entry.category != PROMOTIONAL
        or not isinstance(intent_at, int)
        or isinstance(intent_at, bool)
        or not MIN_MS <= intent_at <= MAX_MS
        or optout_at > intent_at
        or not isinstance(entry.intent_id, str)
        or not isinstance(entry.sender, str)
        or not isinstance(entry.channel, str)
    ):
        return False
    if optout.party is not None and optout.party != entry.sender:
        return False
    return optout.channel in covering_channels(entry, optout.address, config)


def covering_channels(entry: DecidedIntent, address: str, config: PolicyConfig) -> tuple[str, ...]:
    """The channels whose opt-outs cover the intent of `entry`, as `decide` computed them: the
    engine's coverage hooks on a context of that intent (its jurisdiction, and the number's own
    country). `address` is the recipient's (the entry's intent went to it)."""
    assert entry.channel is not None and entry.sender is not None
    jurisdiction = entry.jurisdiction
    table = table_for(config)
    if not isinstance(jurisdiction, str) or jurisdiction not in table.entries:
        return (entry.channel,)
    assert entry.intent_at_ms is not None
    intent = SendIntent(
        id=entry.intent_id, at=from_epoch_ms(entry.intent_at_ms), channel=entry.channel,
        address=address, sender=entry.sender, category=PROMOTIONAL, has_opt_out=True,
        jurisdiction=jurisdiction,
    )  # fmt: skip
    context = Context(intent, EMPTY_STATE, {}, config, table=table, coverage_hooks=COVERAGE_HOOKS)
    return context.covering_channels()
