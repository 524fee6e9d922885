"""One confirmation may follow each opt-out, promptly; the opt-out is not an invitation to write."""

from __future__ import annotations

from typing import Final

from streams.policy.context import Context
from streams.policy.findings import Why, party_text, when
from streams.policy.reasons import CONFIRMATION_NOT_ALLOWED, OPTOUT_CONFIRMATION
from streams.policy.rules.cases import allow, consent, deny, intent, optout
from streams.policy.state import OptOutMark, RecipientState

RULE_ID: Final = CONFIRMATION_NOT_ALLOWED
ALLOWS: Final = (OPTOUT_CONFIRMATION,)
APPLIES_TO: Final = frozenset({"optout_confirmation"})
STATEMENT: Final = (
    "An opt-out confirmation needs a covering opt-out at or before it, at most the window before "
    "it (24 h by "
    "default; 5 minutes on US sms, mms and voice, OPTOUT_CONFIRMATION_WINDOW), not yet confirmed "
    "(policy 6: no further messages 'except those necessary to confirm the opt-out')."
)


def check(ctx: Context) -> str:
    return OPTOUT_CONFIRMATION if _confirms(ctx) is not None else RULE_ID


def _confirms(ctx: Context) -> OptOutMark | None:
    """The opt-out this intent confirms: dated at or before it (the as-of view holds no other)
    and within the window, also when this very intent id confirmed it before, so that an intent
    reusing a confirmation's id cannot pass outside the window."""
    mark = ctx.confirmable_optout()
    if mark is None or not 0 <= ctx.at_ms - mark.at <= ctx.confirmation_window_ms():
        return None
    return mark


def on_allow(ctx: Context) -> RecipientState | None:
    """Record which intent confirmed the opt-out, so no second confirmation passes and a
    reprocessed copy of this intent is allowed again."""
    mark = _confirms(ctx)
    if mark is None or mark.confirmed_by == ctx.intent.id:
        return None
    return ctx.state.with_confirmation(mark.id, ctx.intent.id)


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    window_ms = ctx.confirmation_window_ms()
    mark = _confirms(ctx)
    if mark is not None:
        return Why(f"confirms opt-out {mark.id} ({mark.channel}, {party_text(mark.party)}, "
                   f"{when(mark.at)}), {_span(ctx.at_ms - mark.at)} after it, within the "
                   f"{_span(window_ms)} window, not confirmed before", (mark.id,))  # fmt: skip
    channels = ctx.covering_channels()
    reasons: list[str] = []
    relied: list[str] = []
    for m in ctx.state.recent_optouts:
        if m.channel not in channels or (m.party is not None and m.party != intent.sender):
            continue
        relied.append(m.id)
        if m.confirmed_by is not None:
            reasons.append(
                f"opt-out {m.id} ({when(m.at)}) was already confirmed by {m.confirmed_by}"
            )
        else:
            reasons.append(f"opt-out {m.id} ({when(m.at)}) is {_span(ctx.at_ms - m.at)} old, "
                           f"more than the {_span(window_ms)} window")  # fmt: skip
    full = ctx.state.base
    for m in () if full is None else full.recent_optouts:
        if m.at > ctx.at_ms and m.channel in channels and m.party in (None, intent.sender):
            relied.append(m.id)
            reasons.append(f"opt-out {m.id} is dated {when(m.at)}, after this confirmation: a "
                           "confirmation confirms only an opt-out at or before it")  # fmt: skip
    if not reasons:
        return Why(f"no opt-out from {intent.sender} on {', '.join(channels)} is on record to "
                   "confirm")  # fmt: skip
    return Why("; ".join(reasons), tuple(relied))


def _span(ms: int) -> str:
    seconds = ms // 1000
    if abs(seconds) < 120:
        return f"{seconds} s"
    if abs(seconds) < 2 * 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:.1f} h"


_BODY = "You are unsubscribed."
CASES: Final = (
    allow("right after an opt-out", OPTOUT_CONFIRMATION,
          consent(0), optout(10), intent(11, category="optout_confirmation", body=_BODY)),
    allow("opt-out from this sender only", OPTOUT_CONFIRMATION,
          optout(10, party="company"), intent(11, category="optout_confirmation", body=_BODY)),
    allow("just inside the window", OPTOUT_CONFIRMATION,
          optout(0, channel="email"),
          intent(24 * 60, channel="email", category="optout_confirmation", body=_BODY)),
    deny("no opt-out", RULE_ID, intent(1, category="optout_confirmation", body=_BODY)),
    deny("second confirmation of one opt-out", RULE_ID,
         optout(10), intent(11, category="optout_confirmation", body=_BODY),
         intent(12, category="optout_confirmation", body=_BODY)),
    deny("too late", RULE_ID, optout(0, channel="email"),
         intent(24 * 60 + 1, channel="email", category="optout_confirmation")),
    deny("an opt-out dated after the confirmation is not confirmed by it", RULE_ID,
         consent(0), optout(20), intent(11, category="optout_confirmation", body=_BODY)),
    deny("opt-out from another party", RULE_ID,
         optout(0, party="acme-partner"), intent(1, category="optout_confirmation", body=_BODY)),
    deny("opt-out on another channel", RULE_ID,
         optout(0, channel="email"), intent(1, category="optout_confirmation", body=_BODY)),
)  # fmt: skip
