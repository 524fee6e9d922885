"""Express consent on double opt-in channels counts only once the recipient confirmed it."""

from __future__ import annotations

from typing import Final

from streams.policy.context import CandidateGrant, Context
from streams.policy.findings import Why, when
from streams.policy.reasons import CONSENT_UNCONFIRMED
from streams.policy.rules.cases import allow, consent, deny, intent, optout
from streams.policy.state import EXPRESS

RULE_ID: Final = CONSENT_UNCONFIRMED
ALLOWS: Final[tuple[str, ...]] = ()
APPLIES_TO: Final = frozenset({"promotional"})
STATEMENT: Final = (
    "On configured channels (email), an express grant needs a confirm at or after it and at or "
    "before the intent, both later than every covering opt-out (policy 5: 'double-opt-in process "
    "or equivalent')."
)


def grant_check(grant: CandidateGrant, ctx: Context) -> str | None:
    if (
        grant.basis == EXPRESS
        and not grant.confirmed
        and ctx.intent.channel in ctx.config.double_opt_in_channels
    ):
        return RULE_ID
    return None


def check(ctx: Context) -> str | None:
    return RULE_ID if RULE_ID in ctx.grant_failures() else None


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    if intent.channel not in ctx.config.double_opt_in_channels:
        return Why(f"{intent.channel} needs no double opt-in")
    line = ctx.state.consents.get((intent.channel, intent.sender))
    parts: list[str] = []
    relied: list[str] = []
    for grant in ctx.candidate_grants():
        ref = ctx.ref("grant", intent.channel, intent.sender, grant.at)
        if ref:
            relied.append(ref)
        name = f"grant {ref}" if ref else f"the grant of {when(grant.at)}"
        if grant.basis != EXPRESS:
            parts.append(f"{name} is {grant.basis}: no confirmation needed")
        elif grant.confirmed and line is not None and line.confirmed_at is not None:
            confirm = ctx.ref("confirm", intent.channel, intent.sender, line.confirmed_at)
            if confirm:
                relied.append(confirm)
            by = f"confirm {confirm}" if confirm else "a confirm"
            parts.append(f"{name} is confirmed by {by} ({when(line.confirmed_at)})")
        else:
            parts.append(f"{name} has no confirm at or after it{_later_confirm(ctx, grant.at)}")
    if not parts:
        return Why("no grant to confirm (see the consent rule)")
    return Why("; ".join(parts), tuple(relied))


def _later_confirm(ctx: Context, grant_at: int) -> str:
    """Words for a confirm of this grant that is held but dated after the intent."""
    full = ctx.state.base
    line = None if full is None else full.consents.get((ctx.intent.channel, ctx.intent.sender))
    later = [c.at for c in line.confirms if c.at > ctx.at_ms] if line is not None else []
    if not later or min(later) < grant_at:
        return ""
    return f" as of the intent (a confirm dated {when(min(later))}, after it, does not count)"


E = "email"
CASES: Final = (
    allow("grant then confirm", "CONSENT_VALID",
          consent(0, channel=E), consent(5, channel=E, action="confirm"), intent(6, channel=E)),
    allow("confirm at the grant's instant", "CONSENT_VALID",
          consent(0, channel=E), consent(0, channel=E, action="confirm"), intent(6, channel=E)),
    allow("a new grant does not undo an earlier confirmation", "CONSENT_VALID",
          consent(0, channel=E), consent(5, channel=E, action="confirm"), consent(10, channel=E),
          intent(11, channel=E)),
    allow("confirm arriving before its earlier-dated grant", "CONSENT_VALID",
          consent(5, channel=E, action="confirm"), consent(0, channel=E), intent(6, channel=E)),
    allow("sms needs no confirmation", "CONSENT_VALID", consent(0), intent(1)),
    deny("a confirm dated after the intent does not count for it", RULE_ID,
         consent(0, channel=E), consent(9, channel=E, action="confirm"), intent(6, channel=E)),
    deny("grant without confirm", RULE_ID, consent(0, channel=E), intent(1, channel=E)),
    deny("confirm before the grant confirms nothing", RULE_ID,
         consent(0, channel=E, action="confirm"), consent(5, channel=E), intent(6, channel=E)),
    deny("a grant after an opt-out needs a new confirm", RULE_ID,
         consent(0, channel=E), consent(1, channel=E, action="confirm"), optout(2, channel=E),
         consent(3, channel=E), intent(4, channel=E)),
)  # fmt: skip
