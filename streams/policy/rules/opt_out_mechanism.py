"""Every promotional message must carry a free, visible way to opt out."""

from __future__ import annotations

from typing import Final

from streams.policy.content import has_opt_out_mechanism
from streams.policy.context import Context
from streams.policy.findings import Why
from streams.policy.reasons import MISSING_OPT_OUT
from streams.policy.rules.cases import allow, consent, deny, intent

RULE_ID: Final = MISSING_OPT_OUT
ALLOWS: Final[tuple[str, ...]] = ()
APPLIES_TO: Final = frozenset({"promotional"})
STATEMENT: Final = (
    "A promotional message needs has_opt_out, and a given body must show the way: an unsubscribe "
    "link or words for email, STOP for sms, mms and whatsapp (policy 6)."
)


def check(ctx: Context) -> str | None:
    intent = ctx.intent
    if not intent.has_opt_out:
        return RULE_ID
    body = intent.body
    if body is not None and not has_opt_out_mechanism(intent.channel, body):
        return RULE_ID
    return None


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    if not intent.has_opt_out:
        return Why("has_opt_out is false: the message offers no way to opt out")
    if intent.body is None:
        return Why("has_opt_out is true and there is no body to check")
    if not has_opt_out_mechanism(intent.channel, intent.body):
        need = "an unsubscribe link or words" if intent.channel == "email" else "the word STOP"
        return Why(f"has_opt_out is true but the body does not show the way out ({need})")
    return Why("has_opt_out is true and the body shows the way out")


E = "email"
CASES: Final = (
    allow("sms with STOP", "CONSENT_VALID", consent(0), intent(1)),
    allow("sms without a body relies on has_opt_out", "CONSENT_VALID",
          consent(0), intent(1, body="")),
    allow("voice relies on has_opt_out", "CONSENT_VALID",
          consent(0, channel="voice"), intent(1, channel="voice", body="Hi, Acme calling.")),
    allow("email with an unsubscribe link", "CONSENT_VALID",
          consent(0, channel=E), consent(1, channel=E, action="confirm"), intent(2, channel=E)),
    deny("has_opt_out false", RULE_ID, consent(0), intent(1, has_opt_out=False)),
    deny("sms body without STOP", RULE_ID, consent(0), intent(1, body="20% off all bundles!")),
    deny("email body without a way out", RULE_ID,
         consent(0, channel=E), consent(1, channel=E, action="confirm"),
         intent(2, channel=E, body="Autumn collection, 15% off for members.")),
    deny("listed with NO_CONSENT when both apply", RULE_ID, intent(1, has_opt_out=False)),
)  # fmt: skip
