"""J4: in the US, an opt-out confirmation on sms, mms or voice must follow within 5 minutes.

A parameter rule: it produces no code of its own but narrows the window in which
optout_confirmation allows the one confirmation of an opt-out (CONFIRMATION_NOT_ALLOWED after it).
The window comes from the jurisdiction table for the intent's jurisdiction and channel; where the
table has none, the configured window of contract part 1 holds (24 hours by default). A
confirmation at exactly the window's end is still inside ("at most").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from streams.policy.context import Context
from streams.policy.findings import Why
from streams.policy.reasons import CONFIRMATION_NOT_ALLOWED
from streams.policy.rules.cases import allow, deny, intent, optout

RULE_ID: Final = "OPTOUT_CONFIRMATION_WINDOW"
CODES: Final = (CONFIRMATION_NOT_ALLOWED,)
APPLIES_TO: Final = frozenset({"optout_confirmation"})
STATEMENT: Final = (
    "In the US a confirmation of an opt-out on sms, mms or voice must go within 5 minutes of it "
    "(FCC 24-24, 47 CFR 64.1200(a)(12): a one-time confirmation text sent within five minutes is "
    "presumed within the consumer's prior express consent); elsewhere the configured 24 hours "
    "(policy 6: no further messages 'except those necessary to confirm the opt-out')."
)


def confirmation_window_ms(ctx: Context) -> int | None:
    jurisdiction = ctx.jurisdiction()
    if jurisdiction is None:
        return None
    window = jurisdiction.confirmation_for.get(ctx.intent.channel)
    return None if window is None else window.within_ms


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    jurisdiction = ctx.jurisdiction()
    window = None if jurisdiction is None else jurisdiction.confirmation_for.get(intent.channel)
    if window is None:
        default = _words(ctx.config.optout_confirmation_window)
        return Why(f"no window of its own for {intent.channel} in {intent.jurisdiction}: the "
                   f"configured {default} (contract part 1)")  # fmt: skip
    return Why(f"{intent.jurisdiction} {intent.channel}: within {window.within.words} of the "
               f"opt-out ({window.source})")  # fmt: skip


def _words(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    for unit, size in (("hours", 3600), ("minutes", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


_BODY = "You are unsubscribed."
GB = "+447911123456"
CASES: Final = (
    allow("US sms confirmation 2 minutes after", "OPTOUT_CONFIRMATION",
          optout(0), intent(2, category="optout_confirmation", body=_BODY)),
    allow("US confirmation at 5 minutes sharp", "OPTOUT_CONFIRMATION",
          optout(0), intent(5, category="optout_confirmation", body=_BODY)),
    allow("UK sms confirmation 15 minutes after", "OPTOUT_CONFIRMATION",
          optout(0, address=GB, jurisdiction="GB"),
          intent(15, category="optout_confirmation", body=_BODY, address=GB, jurisdiction="GB")),
    allow("US email keeps the 24 hours", "OPTOUT_CONFIRMATION",
          optout(0, channel="email"),
          intent(60, channel="email", category="optout_confirmation", body=_BODY)),
    deny("US sms confirmation 10 minutes after", CONFIRMATION_NOT_ALLOWED,
         optout(0), intent(10, category="optout_confirmation", body=_BODY)),
    deny("US voice confirmation 6 minutes after", CONFIRMATION_NOT_ALLOWED,
         optout(0, channel="voice"),
         intent(6, channel="voice", category="optout_confirmation", body=_BODY)),
)  # fmt: skip
