"""Express consent on double opt-in channels counts only once the recipient confirmed it."""

from __future__ import annotations

from typing import Final

from streams.policy.context import CandidateGrant, Context
from streams.policy.reasons import CONSENT_UNCONFIRMED
from streams.policy.rules.cases import allow, consent, deny, intent, optout
from streams.policy.state import EXPRESS

RULE_ID: Final = CONSENT_UNCONFIRMED
ALLOWS: Final[tuple[str, ...]] = ()
APPLIES_TO: Final = frozenset({"promotional"})
STATEMENT: Final = (
    "On configured channels (email), an express grant needs a confirm at or after it, both later "
    "than every covering opt-out (policy 5: 'double-opt-in process or equivalent')."
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
    deny("grant without confirm", RULE_ID, consent(0, channel=E), intent(1, channel=E)),
    deny("confirm before the grant confirms nothing", RULE_ID,
         consent(0, channel=E, action="confirm"), consent(5, channel=E), intent(6, channel=E)),
    deny("a grant after an opt-out needs a new confirm", RULE_ID,
         consent(0, channel=E), consent(1, channel=E, action="confirm"), optout(2, channel=E),
         consent(3, channel=E), intent(4, channel=E)),
)  # fmt: skip
