"""Service messages are exempt from marketing consent only while they carry no promotion."""

from __future__ import annotations

from typing import Final

from streams.policy.content import promotional_match
from streams.policy.context import Context
from streams.policy.findings import Why
from streams.policy.reasons import LEGAL_REQUIRED, PROMOTIONAL_CONTENT_NOT_ALLOWED, TRANSACTIONAL
from streams.policy.rules.cases import allow, deny, intent, optout

RULE_ID: Final = PROMOTIONAL_CONTENT_NOT_ALLOWED
ALLOWS: Final = (TRANSACTIONAL, LEGAL_REQUIRED)
APPLIES_TO: Final = frozenset({"transactional", "legal", "optout_confirmation"})
STATEMENT: Final = (
    "Transactional, legal and opt-out confirmation messages need no marketing consent, opted out "
    "or not, provided they contain no promotional content (policy 3, 6 and 8)."
)
_EXEMPTION: Final = {"transactional": TRANSACTIONAL, "legal": LEGAL_REQUIRED}


def check(ctx: Context) -> str | None:
    body = ctx.intent.body
    if body and promotional_match(body) is not None:
        return RULE_ID
    return _EXEMPTION.get(ctx.intent.category)


def explain(ctx: Context) -> Why:
    category, body = ctx.intent.category, ctx.intent.body
    exempt = (f"a {category} message needs no marketing consent" if category in _EXEMPTION
              else "the opt-out confirmation rule decides whether it may go")  # fmt: skip
    if not body:
        return Why(f"no body to check; {exempt}")
    pattern = promotional_match(body)
    if pattern is not None:
        return Why(f"the body reads as promotional (pattern {pattern!r}), which a {category} "
                   "message may not carry")  # fmt: skip
    return Why(f"the body carries no promotional content; {exempt}")


CASES: Final = (
    allow("order update to an opted-out recipient", TRANSACTIONAL,
          optout(0), intent(1, category="transactional", body="Your order 5512 has shipped.")),
    allow("one-time code", TRANSACTIONAL,
          intent(1, category="transactional", body="Use code 482913 to sign in.")),
    allow("legal notice without a body", LEGAL_REQUIRED, intent(1, category="legal")),
    allow("terms change notice", LEGAL_REQUIRED,
          intent(1, category="legal", body="Notice: our terms of service change on 1 July.")),
    deny("coupon in an order update", RULE_ID,
         intent(1, category="transactional",
                body="Your order shipped! Use code SAVE20 for 20% off your next order.")),
    deny("sale in a legal notice", RULE_ID,
         intent(1, category="legal", body="Our terms change on 1 July. Summer sale: shop now!")),
    deny("offer in an opt-out confirmation", RULE_ID,
         optout(0), intent(1, category="optout_confirmation",
                           body="You are unsubscribed. Come back for 10% off!")),
)  # fmt: skip
