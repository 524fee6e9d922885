"""A third party may send nothing, of any category, without a written agreement in force."""

from __future__ import annotations

from typing import Final

from streams.policy.context import Context
from streams.policy.findings import Why, when
from streams.policy.reasons import THIRD_PARTY_NO_AGREEMENT
from streams.policy.records import CATEGORIES
from streams.policy.rules.cases import allow, at, consent, deny, intent, partner

RULE_ID: Final = THIRD_PARTY_NO_AGREEMENT
ALLOWS: Final[tuple[str, ...]] = ()
APPLIES_TO: Final = CATEGORIES
STATEMENT: Final = (
    "A sender other than the first party needs a signed, unrevoked, unexpired agreement at the "
    "intent's time (policy 4: third parties 'must agree in writing'; 7: contract required)."
)


def check(ctx: Context) -> str | None:
    if ctx.is_first_party:
        return None
    agreement = ctx.agreement()
    if agreement is not None and agreement.in_force(ctx.at_ms):
        return None
    return RULE_ID


def explain(ctx: Context) -> Why:
    sender = ctx.intent.sender
    if ctx.is_first_party:
        return Why(f"{sender} is the first party: it needs no agreement")
    agreement = ctx.agreement()
    if agreement is None:
        return Why(f"{sender} is a third party and no partner agreement of {sender} is on record "
                   f"at {when(ctx.at_ms)}: the agreement it needs is missing")  # fmt: skip
    last = agreement.record_ids[-1] if agreement.record_ids else None
    name = f"partner record {last}" if last else "the last partner record"
    relied = (last,) if last else ()
    if agreement.agreement != "signed":
        return Why(f"{sender}'s agreement was {agreement.agreement} by {name} "
                   f"({when(agreement.at)})", relied)  # fmt: skip
    if agreement.expires is not None and ctx.at_ms >= agreement.expires:
        return Why(f"{sender}'s agreement ({name}, signed {when(agreement.at)}) expired at "
                   f"{when(agreement.expires)}", relied)  # fmt: skip
    until = "no expiry" if agreement.expires is None else f"expires {when(agreement.expires)}"
    return Why(f"{sender}'s agreement is in force: {name}, signed {when(agreement.at)}, {until}",
               relied)  # fmt: skip


P = "acme-partner"
CASES: Final = (
    allow("first party needs no agreement", "TRANSACTIONAL",
          intent(1, category="transactional", body="Your order 77 has shipped.")),
    allow("signed agreement and own consent", "CONSENT_VALID",
          partner(0), consent(1, party=P), intent(2, sender=P)),
    allow("agreement expiring after the intent", "TRANSACTIONAL",
          partner(0, expires=at(6 * 60)),
          intent(5, sender=P, category="transactional", body="Your order 77 has shipped.")),
    deny("no agreement at all, even for a transactional message", RULE_ID,
         intent(1, sender=P, category="transactional", body="Your order 77 has shipped.")),
    deny("revoked agreement", RULE_ID,
         partner(0), consent(1, party=P), partner(2, agreement="revoked"), intent(3, sender=P)),
    deny("expired agreement", RULE_ID,
         partner(0, expires=at(10)), consent(1, party=P), intent(10, sender=P)),
    deny("another party's agreement does not count", RULE_ID,
         partner(0, party="globex"), consent(1, party=P), intent(2, sender=P)),
)  # fmt: skip
