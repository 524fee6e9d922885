"""J1, first half: consent counts only on a basis the recipient's jurisdiction accepts.

Express consent counts everywhere (contract part 1). Any other basis counts only where the
jurisdiction table lists it for the intent's jurisdiction, and only for the parties and channels
the row names: implied consent (purchase, inquiry) in Canada, the soft opt-in for the first party
on email, sms and mms in the UK, Ireland and Switzerland. Elsewhere the gate fails closed rather
than treating an implied consent as an explicit one. How long an accepted basis lasts is the next
rule's (consent_expiry). Where the number's country differs from the declared jurisdiction, the
basis must be accepted in both (issue 11 §6): an implied grant declared `CA` for a US number is not
consent.
"""

from __future__ import annotations

from typing import Final

from streams.policy.context import CandidateGrant, Context
from streams.policy.findings import Why, when
from streams.policy.reasons import CONSENT_BASIS_NOT_ACCEPTED
from streams.policy.rules.cases import allow, consent, deny, intent
from streams.policy.state import EXPRESS

RULE_ID: Final = CONSENT_BASIS_NOT_ACCEPTED
ALLOWS: Final[tuple[str, ...]] = ()
APPLIES_TO: Final = frozenset({"promotional"})
STATEMENT: Final = (
    "Consent counts only on a basis the recipient's jurisdiction accepts: express everywhere; "
    "implied_purchase and implied_inquiry in CA (CASL s.10(9)-(10)); soft_opt_in for the first "
    "party on email, sms and mms in GB (PECR reg 22(3)), IE (S.I. 336/2011 reg 13(11)) and CH "
    "(UWG art. 3(1)(o)) (policy 4: 'explicitly opted in or otherwise consented as required by "
    "applicable law'; 5: consent 'specific, informed, freely given and recorded')."
)


def grant_check(grant: CandidateGrant, ctx: Context) -> str | None:
    if grant.basis == EXPRESS:
        return None
    jurisdictions = ctx.jurisdictions()
    if not jurisdictions:
        return RULE_ID
    for jurisdiction in jurisdictions:  # the declared one and the number's own: both must accept
        rule = jurisdiction.basis_rule.get(grant.basis)
        if rule is None or not rule.accepts(ctx.intent.channel, ctx.is_first_party):
            return RULE_ID
    return None


def check(ctx: Context) -> str | None:
    return RULE_ID if RULE_ID in ctx.grant_failures() else None


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    verdicts = ctx.grant_verdicts()
    if not verdicts:
        return Why("no grant to judge (see the consent rule)")
    jurisdiction = ctx.jurisdiction()
    parts: list[str] = []
    relied: list[str] = []
    for grant, _codes in verdicts:
        ref = ctx.ref("grant", intent.channel, intent.sender, grant.at)
        name = f"grant {ref} ({grant.basis}, {when(grant.at)})" if ref else (
            f"the {grant.basis} grant of {when(grant.at)}")  # fmt: skip
        if ref:
            relied.append(ref)
        if grant.basis == EXPRESS:
            parts.append(f"{name}: express consent counts everywhere")
            continue
        rule = None if jurisdiction is None else jurisdiction.basis_rule.get(grant.basis)
        if rule is None:
            parts.append(f"{name}: {intent.jurisdiction} does not accept {grant.basis}")
        elif not rule.accepts(intent.channel, ctx.is_first_party):
            parts.append(f"{name}: {intent.jurisdiction} accepts {grant.basis} only for "
                         f"{rule.scope()}, not {intent.sender} on {intent.channel} "
                         f"({rule.source})")  # fmt: skip
        else:
            parts.append(f"{name}: accepted in {intent.jurisdiction} ({rule.source})")
    return Why("; ".join(parts), tuple(relied))


E = "email"
CA_PHONE = "+16135550164"
GB_EMAIL = "erin@example.co.uk"
CASES: Final = (
    allow("express consent", "CONSENT_VALID", consent(0), intent(1)),
    allow("express consent next to an implied one", "CONSENT_VALID",
          consent(0, basis="implied_purchase"), consent(1), intent(2)),
    allow("implied consent from a purchase in Canada", "CONSENT_VALID",
          consent(0, basis="implied_purchase", jurisdiction="CA", address=CA_PHONE),
          intent(1, jurisdiction="CA", address=CA_PHONE)),
    allow("soft opt-in by email in the UK, no confirmation needed", "CONSENT_VALID",
          consent(0, channel=E, basis="soft_opt_in", jurisdiction="GB", address=GB_EMAIL),
          intent(1, channel=E, jurisdiction="GB", address=GB_EMAIL)),
    deny("implied consent in the US", RULE_ID, consent(0, basis="implied_purchase"), intent(1)),
    deny("soft opt-in in the US", RULE_ID,
         consent(0, channel=E, basis="soft_opt_in"), intent(1, channel=E)),
    deny("soft opt-in does not extend to a partner", RULE_ID,
         {"type": "partner", "id": "p1", "at": "2026-06-01T17:00:00Z", "party": "globex",
          "agreement": "signed"},
         consent(0, channel=E, party="globex", basis="soft_opt_in", jurisdiction="GB",
                 address=GB_EMAIL),
         intent(1, channel=E, sender="globex", jurisdiction="GB", address=GB_EMAIL)),
    deny("soft opt-in does not extend to voice", RULE_ID,
         consent(0, channel="voice", basis="soft_opt_in", jurisdiction="GB",
                 address="+447911123456"),
         intent(1, channel="voice", jurisdiction="GB", address="+447911123456")),
    deny("implied consent declared in Canada for a US number", RULE_ID,
         consent(0, basis="implied_purchase", jurisdiction="CA"), intent(1, jurisdiction="CA")),
)  # fmt: skip
