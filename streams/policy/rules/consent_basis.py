"""Consent counts only on a basis the law accepts: interim rule, express consent only.

Records may already carry a `basis` (jurisdictions.md J1). Until the jurisdiction table decides
where implied and soft opt-in consent count, and for how long, a grant on any basis other than
express is not accepted anywhere: the gate fails closed rather than treating an implied consent as
an explicit one. The jurisdiction rules replace `grant_check` here, nothing else.
"""

from __future__ import annotations

from typing import Final

from streams.policy.context import CandidateGrant, Context
from streams.policy.reasons import CONSENT_BASIS_NOT_ACCEPTED
from streams.policy.rules.cases import allow, consent, deny, intent
from streams.policy.state import EXPRESS

RULE_ID: Final = CONSENT_BASIS_NOT_ACCEPTED
ALLOWS: Final[tuple[str, ...]] = ()
APPLIES_TO: Final = frozenset({"promotional"})
STATEMENT: Final = (
    "Consent counts only on a basis the recipient's jurisdiction accepts; until that table exists, "
    "express consent only (policy 4: 'explicitly opted in'; 5: 'clear, affirmative consent')."
)


def grant_check(grant: CandidateGrant, ctx: Context) -> str | None:
    return None if grant.basis == EXPRESS else RULE_ID


def check(ctx: Context) -> str | None:
    return RULE_ID if RULE_ID in ctx.grant_failures() else None


CASES: Final = (
    allow("express consent", "CONSENT_VALID", consent(0), intent(1)),
    allow("express consent next to an implied one", "CONSENT_VALID",
          consent(0, basis="implied_purchase"), consent(1), intent(2)),
    deny("implied consent only", RULE_ID, consent(0, basis="implied_purchase"), intent(1)),
    deny("soft opt-in only", RULE_ID,
         consent(0, channel="email", basis="soft_opt_in"), intent(1, channel="email")),
)  # fmt: skip
