"""J3: in the US, one opt-out covers calls and texts alike.

A parameter rule: it produces no code of its own but widens which opt-outs *cover* an intent, for
every rule that asks (opted_out, consent, optout_confirmation). Where the jurisdiction table groups
channels for the intent's jurisdiction (US: sms, mms, voice), an opt-out on any of them covers an
intent on any of them; elsewhere an opt-out covers its own channel only (contract part 1). The
recipient's jurisdiction is the intent's: the state keeps opt-outs per channel, and this rule
decides at decision time which channels count.
"""

from __future__ import annotations

from typing import Final

from streams.policy.context import Context
from streams.policy.findings import Why
from streams.policy.reasons import CONFIRMATION_NOT_ALLOWED, OPTED_OUT
from streams.policy.rules.cases import allow, consent, deny, intent, optout

RULE_ID: Final = "OPT_OUT_COVERS_CHANNELS_TOGETHER"
CODES: Final = (OPTED_OUT, CONFIRMATION_NOT_ALLOWED)
APPLIES_TO: Final = frozenset({"promotional", "optout_confirmation"})
STATEMENT: Final = (
    "In the US an opt-out on sms, mms or voice covers all three channels for that number: a "
    "revocation for calls also covers texts and the reverse (FCC 24-24, 47 CFR 64.1200(a)(10)) "
    "(policy 6: 'Once an individual opts out, we will not send further promotional messages')."
)


def covering_channels(ctx: Context) -> tuple[str, ...] | None:
    jurisdiction = ctx.jurisdiction()
    if jurisdiction is None:
        return None
    group = jurisdiction.covering.get(ctx.intent.channel)
    return None if group is None else group.channels


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    channels = covering_channels(ctx)
    if channels is None:
        return Why(f"not in play: in {intent.jurisdiction} an opt-out on {intent.channel} covers "
                   f"{intent.channel} only")  # fmt: skip
    jurisdiction = ctx.jurisdiction()
    assert jurisdiction is not None
    group = jurisdiction.covering[intent.channel]
    found = ctx.covering_optout()
    said = f"in {intent.jurisdiction} opt-outs on {', '.join(channels)} all cover {intent.channel}"
    if found is None:
        return Why(f"{said} ({group.source}); none is on record")
    optout_id = ctx.optout_id(found)
    name = f"opt-out {optout_id}" if optout_id else "an opt-out"
    return Why(
        f"{said} ({group.source}); the latest is {name} on {found.channel}",
        (optout_id,) if optout_id else (),
    )


_BODY = "You are unsubscribed."
GB = "+447911123456"
CASES: Final = (
    allow("a UK sms opt-out leaves voice alone", "CONSENT_VALID",
          consent(0, channel="voice", address=GB, jurisdiction="GB"),
          optout(5, address=GB, jurisdiction="GB"),
          intent(6, channel="voice", address=GB, jurisdiction="GB")),
    allow("a voice grant after the sms opt-out", "CONSENT_VALID",
          optout(5), consent(6, channel="voice"), intent(7, channel="voice")),
    allow("an sms opt-out may be confirmed by voice", "OPTOUT_CONFIRMATION",
          optout(5), intent(6, channel="voice", category="optout_confirmation", body=_BODY)),
    deny("a US sms opt-out covers voice", OPTED_OUT,
         consent(0, channel="voice"), optout(5), intent(6, channel="voice")),
    deny("a US voice opt-out covers mms", OPTED_OUT,
         consent(0, channel="mms"), optout(5, channel="voice"), intent(6, channel="mms")),
    deny("one confirmation for the sms opt-out, whichever channel", CONFIRMATION_NOT_ALLOWED,
         optout(5), intent(6, channel="voice", category="optout_confirmation", body=_BODY),
         intent(7, category="optout_confirmation", body=_BODY)),
)  # fmt: skip
