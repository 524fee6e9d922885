"""Every promotional message must carry a free, visible way to opt out."""

from __future__ import annotations

from typing import Final

from streams.policy.content import TEXT_CHANNELS, opt_out_form
from streams.policy.context import Context
from streams.policy.findings import Why
from streams.policy.reasons import MISSING_OPT_OUT
from streams.policy.rules.cases import allow, consent, deny, intent

RULE_ID: Final = MISSING_OPT_OUT
ALLOWS: Final[tuple[str, ...]] = ()
APPLIES_TO: Final = frozenset({"promotional"})
STATEMENT: Final = (
    "A promotional message needs has_opt_out, and a given body must show the way: an unsubscribe "
    'link or an affirmative instruction for email, a keyword instruction ("Reply STOP", "STOP '
    'au 36111", "Envía BAJA") for sms, mms and whatsapp, read by a grammar in every company '
    "language (policy 6)."
)


def _need(channel: str) -> str:
    if channel in TEXT_CHANNELS:
        return "a keyword instruction such as 'Reply STOP'"
    return "an unsubscribe link or an instruction such as 'To unsubscribe, click here'"


def check(ctx: Context) -> str | None:
    intent = ctx.intent
    if not intent.has_opt_out:
        return RULE_ID
    body = intent.body
    if body is not None and opt_out_form(intent.channel, body) is None:
        ctx.note(f"{RULE_ID}: the body shows no way out ({_need(intent.channel)})")
        return RULE_ID
    return None


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    if not intent.has_opt_out:
        return Why("has_opt_out is false: the message offers no way to opt out")
    if intent.body is None:
        return Why("has_opt_out is true and there is no body to check")
    form = opt_out_form(intent.channel, intent.body)
    if form is None:
        return Why(f"has_opt_out is true but the body does not show the way out "
                   f"({_need(intent.channel)})")  # fmt: skip
    if form == "n/a":
        return Why(f"has_opt_out is true; a {intent.channel} body cannot show the way by words")
    return Why(f"has_opt_out is true and the body shows the way out (grammar form {form})")


E = "email"
CASES: Final = (
    allow("sms with STOP", "CONSENT_VALID", consent(0), intent(1)),
    allow("sms without a body relies on has_opt_out", "CONSENT_VALID",
          consent(0), intent(1, body="")),
    allow("voice relies on has_opt_out", "CONSENT_VALID",
          consent(0, channel="voice"), intent(1, channel="voice", body="Hi, Acme calling.")),
    allow("email with an unsubscribe link", "CONSENT_VALID",
          consent(0, channel=E), consent(1, channel=E, action="confirm"), intent(2, channel=E)),
    allow("French sms with STOP au", "CONSENT_VALID",
          consent(0), intent(1, body="Soldes -30 % ce week-end. STOP au 36111")),
    allow("Spanish sms with BAJA", "CONSENT_VALID",
          consent(0), intent(1, body="Rebajas de verano. Responde BAJA para no recibir más.")),
    allow("German email with an instruction", "CONSENT_VALID",
          consent(0, channel=E), consent(1, channel=E, action="confirm"),
          intent(2, channel=E,
                 body="Nur heute 20 % Rabatt. Um sich abzumelden, klicken Sie hier.")),
    allow("Hindi sms, verb last", "CONSENT_VALID",
          consent(0), intent(1, body="दिवाली सेल! 40% की छूट। STOP लिखकर 12345 पर भेजें")),
    deny("has_opt_out false", RULE_ID, consent(0), intent(1, has_opt_out=False)),
    deny("sms body without STOP", RULE_ID, consent(0), intent(1, body="20% off all bundles!")),
    deny("'don't stop now' is no way out", RULE_ID,
         consent(0), intent(1, body="20% off all bundles, don't stop now!")),
    deny("email body without a way out", RULE_ID,
         consent(0, channel=E), consent(1, channel=E, action="confirm"),
         intent(2, channel=E, body="Autumn collection, 15% off for members.")),
    deny("'you cannot unsubscribe' is no way out", RULE_ID,
         consent(0, channel=E), consent(1, channel=E, action="confirm"),
         intent(2, channel=E, body="15% off for members. You cannot unsubscribe from this list.")),
    deny("listed with NO_CONSENT when both apply", RULE_ID, intent(1, has_opt_out=False)),
)  # fmt: skip
