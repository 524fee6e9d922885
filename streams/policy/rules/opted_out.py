"""Once a person opts out of a sender, only a newer grant to that sender lets marketing through."""

from __future__ import annotations

from typing import Final

from streams.policy.context import Context, CoveringOptOut
from streams.policy.findings import Why, party_text, when
from streams.policy.reasons import OPTED_OUT
from streams.policy.rules.cases import allow, consent, deny, intent, optout

RULE_ID: Final = OPTED_OUT
ALLOWS: Final[tuple[str, ...]] = ()
APPLIES_TO: Final = frozenset({"promotional"})
STATEMENT: Final = (
    "A promotional message is denied when an opt-out covering this sender (its party or every "
    "party) and recipient is held, whatever its date (one dated after the intent counts as of the "
    "intent), and no grant at or before the intent is later than it (policy 6: 'Once an "
    "individual opts out, we will not send further promotional messages')."
)


def check(ctx: Context) -> str | None:
    if ctx.covering_optout_at() is not None and not ctx.candidate_grants():
        return RULE_ID
    return None


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    found = ctx.covering_optout()
    if found is None:
        return Why(f"no opt-out from {intent.sender} or every party on "
                   f"{', '.join(ctx.covering_channels())} is on record")  # fmt: skip
    dated = _dated_at(ctx, found)
    optout_id = ctx.optout_id(found) if dated == found.at else _held_id(ctx, found, dated)
    name = f"opt-out {optout_id}" if optout_id else "an opt-out"
    after = ", after the intent: it counts as of the intent" if dated > found.at else ""
    said = (f"{name} ({found.channel}, from {party_text(found.party)}, {when(dated)}{after}) "
            f"covers {intent.sender} on {intent.channel}")  # fmt: skip
    relied = [optout_id] if optout_id else []
    later = ctx.candidate_grants()
    if not later:
        return Why(f"{said}, and no grant is later than it", tuple(relied))
    grant_id = ctx.ref("grant", intent.channel, intent.sender, later[-1].at)
    if grant_id:
        relied.append(grant_id)
    grant = f"grant {grant_id}" if grant_id else "a grant"
    return Why(f"{said}, but {grant} ({when(later[-1].at)}) is later", tuple(relied))


def _dated_at(ctx: Context, found: CoveringOptOut) -> int:
    """The opt-out's own `at`: an as-of view shows one dated after the intent at the intent's."""
    full = ctx.state.base
    if full is None:
        return found.at
    return full.optouts.get((found.channel, found.party), found.at)


def _held_id(ctx: Context, found: CoveringOptOut, dated: int) -> str | None:
    found_id = ctx.ref("optout", found.channel, found.party, dated)
    if found_id is not None or ctx.state.base is None:
        return found_id
    for mark in ctx.state.base.recent_optouts:
        if (mark.at, mark.channel, mark.party) == (dated, found.channel, found.party):
            return mark.id
    return None


P = "acme-partner"
CASES: Final = (
    allow("grant after the opt-out", "CONSENT_VALID",
          consent(0), optout(5), consent(10), intent(11)),
    allow("opt-out from another party does not cover this one", "CONSENT_VALID",
          consent(0), optout(5, party=P), intent(6)),
    allow("opt-out on another channel does not cover this one", "CONSENT_VALID",
          consent(0), optout(5, channel="email"), intent(6)),
    deny("opt-out after the grant", RULE_ID, consent(0), optout(5), intent(6)),
    deny("opt-out from this party", RULE_ID, consent(0), optout(5, party="company"), intent(6)),
    deny("an opt-out dated after the intent still counts once known", RULE_ID,
         consent(0), optout(30), intent(6)),
    deny("grant at the same instant as the opt-out is not later", RULE_ID,
         optout(5), consent(5), intent(6)),
)  # fmt: skip
