"""Marketing needs recorded consent of this recipient to this very sender on this channel."""

from __future__ import annotations

from typing import Final

from streams.policy.context import Context
from streams.policy.findings import Why, when
from streams.policy.reasons import CONSENT_VALID, NO_CONSENT
from streams.policy.rules.cases import allow, consent, deny, intent, partner

RULE_ID: Final = NO_CONSENT
ALLOWS: Final = (CONSENT_VALID,)
APPLIES_TO: Final = frozenset({"promotional"})
STATEMENT: Final = (
    "A promotional message needs a grant to this sender on this channel for marketing, dated at or "
    "before the intent and later than every covering opt-out; consent to one party never covers "
    "another (policy 4, 5 and 7)."
)


def check(ctx: Context) -> str | None:
    if ctx.candidate_grants():
        return None if ctx.grant_failures() else CONSENT_VALID
    return RULE_ID if ctx.covering_optout_at() is None else None


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    verdicts = ctx.grant_verdicts()
    if not verdicts:
        if ctx.covering_optout_at() is not None:
            return Why("no grant is later than the covering opt-out (see OPTED_OUT)")
        later = _later_grant(ctx)
        if later is not None:
            ref = ctx.ref("grant", intent.channel, intent.sender, later)
            name = f"grant {ref}" if ref else "a grant"
            return Why(f"{name} to {intent.sender} on {intent.channel} is dated {when(later)}, "
                       f"after the intent: it is no consent yet",
                       (ref,) if ref else ())  # fmt: skip
        return Why(f"no marketing grant to {intent.sender} on {intent.channel} for this "
                   "recipient is on record")  # fmt: skip
    named: list[str] = []
    relied: list[str] = []
    for grant, codes in verdicts:
        ref = ctx.ref("grant", intent.channel, intent.sender, grant.at)
        if ref:
            relied.append(ref)
        name = f"grant {ref}" if ref else "a grant"
        if not codes:
            return Why(f"{name} ({grant.basis}, {when(grant.at)}) to {intent.sender} on "
                       f"{intent.channel} counts", (ref,) if ref else ())  # fmt: skip
        named.append(f"{name} ({grant.basis}, {when(grant.at)}): {', '.join(codes)}")
    return Why("grants on record, none valid: " + "; ".join(named), tuple(relied))


def _later_grant(ctx: Context) -> int | None:
    """The earliest grant held that is dated after the intent (an as-of view hides it)."""
    full = ctx.state.base
    if full is None:
        return None
    line = full.consents.get((ctx.intent.channel, ctx.intent.sender))
    later = [g.at for g in line.grants if g.at > ctx.at_ms] if line is not None else []
    return min(later, default=None)


P = "acme-partner"
CASES: Final = (
    allow("grant to this sender", CONSENT_VALID, consent(0), intent(1)),
    deny("no grant at all", RULE_ID, intent(1)),
    deny("a grant dated after the intent is no consent yet", RULE_ID, consent(30), intent(1)),
    deny("grant to the first party does not cover a partner", RULE_ID,
         partner(-60, party=P), consent(0), intent(1, sender=P)),
    deny("grant to a partner does not cover the first party", RULE_ID,
         consent(0, party=P), intent(1)),
    deny("grant on another channel", RULE_ID, consent(0, channel="voice"), intent(1)),
    deny("a confirm without a grant is no consent", RULE_ID,
         consent(0, channel="email", action="confirm"), intent(1, channel="email")),
)  # fmt: skip
