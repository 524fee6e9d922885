"""J1, second half: an implied or soft opt-in consent lapses where the law gives it a lifetime.

A basis the jurisdiction accepts may have a lapse period in the table, counted from the grant's
`at` in calendar terms (UTC): 2 years for implied consent from a purchase and 6 months from an
inquiry in Canada, 12 months for the soft opt-in in Ireland. At the intent's `at` the grant is
expired when that period has run out (the grant is still good at the very instant it ends).
Express consent has no lapse. A basis the jurisdiction does not accept is consent_basis's concern.
Where the number's country's rules apply as well (context.jurisdictions), the first lapse wins.
Lapse ends are epoch milliseconds clamped to year 9999 (times.add_months), so a grant near the end
of the calendar never overflows: its lapse simply does not end before every instant a record has.
"""

from __future__ import annotations

from typing import Final

from streams.policy.context import CandidateGrant, Context
from streams.policy.findings import Why, when
from streams.policy.reasons import CONSENT_EXPIRED
from streams.policy.rules.cases import allow, consent, deny, intent
from streams.policy.state import EXPRESS

RULE_ID: Final = CONSENT_EXPIRED
ALLOWS: Final[tuple[str, ...]] = ()
APPLIES_TO: Final = frozenset({"promotional"})
STATEMENT: Final = (
    "An accepted non-express consent lapses after the period its jurisdiction gives it, counted "
    "from the grant: CA implied_purchase 2 years and implied_inquiry 6 months (CASL "
    "s.10(10)(a)-(e)), IE soft_opt_in 12 months (S.I. 336/2011 reg 13(11), DPC guidance) "
    "(policy 4: consent 'as required by applicable law')."
)


def grant_check(grant: CandidateGrant, ctx: Context) -> str | None:
    if grant.basis == EXPRESS:
        return None
    for jurisdiction in ctx.jurisdictions():  # declared and the number's own: the shorter lapse
        rule = jurisdiction.basis_rule.get(grant.basis)
        if rule is not None and rule.lapse is not None and ctx.at_ms > rule.lapse.end_ms(grant.at):
            return RULE_ID
    return None


def check(ctx: Context) -> str | None:
    return RULE_ID if RULE_ID in ctx.grant_failures() else None


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    jurisdiction = ctx.jurisdiction()
    parts: list[str] = []
    relied: list[str] = []
    for grant, _codes in ctx.grant_verdicts():
        if grant.basis == EXPRESS:
            continue
        rule = None if jurisdiction is None else jurisdiction.basis_rule.get(grant.basis)
        if rule is None or rule.lapse is None:
            continue
        ref = ctx.ref("grant", intent.channel, intent.sender, grant.at)
        if ref:
            relied.append(ref)
        name = f"grant {ref}" if ref else f"the {grant.basis} grant"
        end = rule.lapse.end_ms(grant.at)
        state = "lapsed" if ctx.at_ms > end else "lasts until"
        parts.append(f"{name} of {when(grant.at)} ({grant.basis}) {state} {when(end)}: "
                     f"{rule.lapse.words} in {intent.jurisdiction} ({rule.source})")  # fmt: skip
    if not parts:
        return Why("no grant with a lapse period in play (express consent does not lapse)")
    return Why("; ".join(parts), tuple(relied))


CA_PHONE = "+16135550164"
IE_EMAIL = "aoife@example.ie"
CASES: Final = (
    allow("implied consent from a purchase 23 months old", "CONSENT_VALID",
          consent(-23 * 30 * 24 * 60, basis="implied_purchase", jurisdiction="CA",
                  address=CA_PHONE),
          intent(1, jurisdiction="CA", address=CA_PHONE)),
    allow("express consent does not lapse", "CONSENT_VALID",
          consent(-5 * 365 * 24 * 60), intent(1)),
    allow("a lapsed implied grant next to a current one", "CONSENT_VALID",
          consent(-3 * 365 * 24 * 60, basis="implied_purchase", jurisdiction="CA",
                  address=CA_PHONE),
          consent(-60, basis="implied_inquiry", jurisdiction="CA", address=CA_PHONE),
          intent(1, jurisdiction="CA", address=CA_PHONE)),
    deny("implied consent from a purchase over two years old", RULE_ID,
         consent(-(2 * 365 + 2) * 24 * 60, basis="implied_purchase", jurisdiction="CA",
                 address=CA_PHONE),
         intent(1, jurisdiction="CA", address=CA_PHONE)),
    deny("implied consent from an inquiry seven months old", RULE_ID,
         consent(-7 * 31 * 24 * 60, basis="implied_inquiry", jurisdiction="CA",
                 address=CA_PHONE),
         intent(1, jurisdiction="CA", address=CA_PHONE)),
    deny("Irish soft opt-in thirteen months old", RULE_ID,
         consent(-13 * 31 * 24 * 60, channel="email", basis="soft_opt_in", jurisdiction="IE",
                 address=IE_EMAIL),
         intent(1, channel="email", jurisdiction="IE", address=IE_EMAIL)),
)  # fmt: skip
