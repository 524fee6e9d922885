"""One confirmation may follow each opt-out, promptly; the opt-out is not an invitation to write."""

from __future__ import annotations

from typing import Final

from streams.policy.context import Context
from streams.policy.reasons import CONFIRMATION_NOT_ALLOWED, OPTOUT_CONFIRMATION
from streams.policy.rules.cases import allow, consent, deny, intent, optout
from streams.policy.state import RecipientState

RULE_ID: Final = CONFIRMATION_NOT_ALLOWED
ALLOWS: Final = (OPTOUT_CONFIRMATION,)
APPLIES_TO: Final = frozenset({"optout_confirmation"})
STATEMENT: Final = (
    "An opt-out confirmation needs a covering opt-out at most the configured window (24 h) before "
    "it, not yet confirmed (policy 6: no further messages 'except those necessary to confirm the "
    "opt-out')."
)


def check(ctx: Context) -> str:
    return OPTOUT_CONFIRMATION if ctx.confirmable_optout() is not None else RULE_ID


def on_allow(ctx: Context) -> RecipientState | None:
    """Record which intent confirmed the opt-out, so no second confirmation passes and a
    reprocessed copy of this intent is allowed again."""
    mark = ctx.confirmable_optout()
    if mark is None or mark.confirmed_by == ctx.intent.id:
        return None
    return ctx.state.with_confirmation(mark.id, ctx.intent.id)


_BODY = "You are unsubscribed."
CASES: Final = (
    allow("right after an opt-out", OPTOUT_CONFIRMATION,
          consent(0), optout(10), intent(11, category="optout_confirmation", body=_BODY)),
    allow("opt-out from this sender only", OPTOUT_CONFIRMATION,
          optout(10, party="company"), intent(11, category="optout_confirmation", body=_BODY)),
    allow("just inside the window", OPTOUT_CONFIRMATION,
          optout(0), intent(24 * 60, category="optout_confirmation", body=_BODY)),
    deny("no opt-out", RULE_ID, intent(1, category="optout_confirmation", body=_BODY)),
    deny("second confirmation of one opt-out", RULE_ID,
         optout(10), intent(11, category="optout_confirmation", body=_BODY),
         intent(12, category="optout_confirmation", body=_BODY)),
    deny("too late", RULE_ID, optout(0), intent(24 * 60 + 1, category="optout_confirmation")),
    deny("opt-out from another party", RULE_ID,
         optout(0, party="acme-partner"), intent(1, category="optout_confirmation", body=_BODY)),
    deny("opt-out on another channel", RULE_ID,
         optout(0, channel="email"), intent(1, category="optout_confirmation", body=_BODY)),
)  # fmt: skip
