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
    "A sender other than the first party needs a signed, unrevoked, unexpired agreement as of the "
    "intent's time: signed at or before it, no revocation held after the signing whatever its date "
    "(policy 4: third parties 'must agree in writing'; 7: contract required)."
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
    at = ctx.at_ms
    if agreement is None:
        return Why(f"{sender} is a third party and no partner agreement of {sender} is on record "
                   f"at {when(at)}: the agreement it needs is missing")  # fmt: skip
    revoked = agreement.revoked_at
    if revoked is not None and revoked >= at:
        dated = "at the intent's time" if revoked == at else "after the intent, still binding it"
        return Why(f"{sender}'s agreement was revoked by partner record {agreement.revoked_id} "
                   f"({when(revoked)}, {dated})", _ids(agreement.revoked_id))  # fmt: skip
    signed = agreement.signed_as_of(at)
    if signed is None:
        later = [s for s in agreement.signed if s.at > at]
        if later:
            return Why(f"{sender}'s agreement {later[0].id} is signed {when(later[0].at)}, after "
                       f"the intent ({when(at)}): it does not count yet",
                       _ids(later[0].id))  # fmt: skip
        return Why(f"{sender}'s agreement was revoked by partner record {agreement.revoked_id} "
                   f"({when(revoked or at)}) and not signed again since",
                   _ids(agreement.revoked_id))  # fmt: skip
    if signed.expires is not None and at >= signed.expires:
        return Why(f"{sender}'s agreement (partner record {signed.id}, signed {when(signed.at)}) "
                   f"expired at {when(signed.expires)}", _ids(signed.id))  # fmt: skip
    until = "no expiry" if signed.expires is None else f"expires {when(signed.expires)}"
    return Why(f"{sender}'s agreement is in force: partner record {signed.id}, signed "
               f"{when(signed.at)}, {until}", _ids(signed.id))  # fmt: skip


def _ids(record_id: str | None) -> tuple[str, ...]:
    return (record_id,) if record_id else ()


P = "acme-partner"
CASES: Final = (
    allow("first party needs no agreement", "TRANSACTIONAL",
          intent(1, category="transactional", body="Your order 77 has shipped.")),
    allow("signed agreement and own consent", "CONSENT_VALID",
          partner(0), consent(1, party=P), intent(2, sender=P)),
    allow("signed again after a revocation", "CONSENT_VALID",
          partner(0), partner(1, agreement="revoked"), partner(2), consent(1, party=P),
          intent(3, sender=P)),
    allow("agreement expiring after the intent", "TRANSACTIONAL",
          partner(0, expires=at(6 * 60)),
          intent(5, sender=P, category="transactional", body="Your order 77 has shipped.")),
    deny("no agreement at all, even for a transactional message", RULE_ID,
         intent(1, sender=P, category="transactional", body="Your order 77 has shipped.")),
    deny("revoked agreement", RULE_ID,
         partner(0), consent(1, party=P), partner(2, agreement="revoked"), intent(3, sender=P)),
    deny("expired agreement", RULE_ID,
         partner(0, expires=at(10)), consent(1, party=P), intent(10, sender=P)),
    deny("an agreement signed after the intent does not count yet", RULE_ID,
         partner(30), consent(1, party=P), intent(2, sender=P)),
    deny("an old signed record arriving after the revocation does not undo it", RULE_ID,
         partner(0), partner(2, agreement="revoked"), partner(1), consent(1, party=P),
         intent(3, sender=P)),
    deny("a revocation dated after the intent binds it once known", RULE_ID,
         partner(0), consent(1, party=P), partner(30, agreement="revoked"), intent(3, sender=P)),
    deny("another party's agreement does not count", RULE_ID,
         partner(0, party="globex"), consent(1, party=P), intent(2, sender=P)),
)  # fmt: skip
