"""What a message body says: promotional content, and whether it shows the way to opt out.

Deterministic and explainable: a fixed list of named, compiled patterns; `promotional_match` returns
the name of the first that matched so a verdict can be explained. The patterns aim at the language
of offers (price cuts, codes, sales, calls to buy) and keep clear of the words service messages
share with them:

- "order", "code", "free", "sale", "deal", "offer", "discount" alone are not promotional: "Your
  order 5512 has shipped", "Your verification code is 482913", "Your sale is complete" (a
  marketplace notice to a seller), "Discount applied: -$5.00" on a receipt, "your free trial ends"
  (an account notice) all pass;
- a code counts as a coupon only when it holds a letter (SAVE20, WELCOME) and the body has no
  sign-in context: "Use code 482913 to sign in", "Enter code AB12CD to verify" are one-time codes;
- a discount a receipt reports as "applied", "redeemed" or "deducted" is not an offer.

Opt-out mechanism, where a body is given: email must carry an unsubscribe link or words
("unsubscribe", "opt out"/"opt-out"/"optout", "manage (your) preferences", "email preferences");
sms, mms and whatsapp must carry the word STOP (any case, as a whole word: "Reply STOP to opt
out"). A voice script, fax, social DM or letter cannot be judged reliably by its words, so on
those channels the intent's `has_opt_out` alone decides.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

_I: Final = re.IGNORECASE

_CURRENCY: Final = r"(?:[$€£₹]|rs\.?\s?|inr\s?|usd\s?|eur\s?|gbp\s?|cad\s?|chf\s?)"
_SEASONS: Final = (
    r"flash|summer|winter|spring|autumn|fall|holiday|christmas|easter|black\s+friday|cyber\s+monday"
    r"|clearance|big|huge|mega|annual|seasonal|weekend|members?['\u2019]?|vip|anniversary|boxing\s+day"
    r"|half[-\s]price|end[-\s]of[-\s]season|warehouse|diwali|eid|new\s+year['\u2019]?s?|festive"
)
# A discount that was applied, as a receipt reports it, is not an offer.
_RECEIPT: Final = re.compile(r"\b(?:applied|redeemed|deducted)\b", _I)
# A code next to these words is a one-time code, not a coupon.
_SIGN_IN: Final = re.compile(
    r"\b(?:verif\w*|sign[-\s]?in|log[-\s]?in|login|one[-\s]time|passcode|otp|2fa|two[-\s]factor"
    r"|authenticat\w*|security\s+code|confirm\s+your|reset\s+your\s+password)\b",
    _I,
)

# (name, pattern, context that clears it): evaluated in this order, first match wins.
_PATTERNS: Final[tuple[tuple[str, str, re.Pattern[str] | None], ...]] = (
    (
        "percent_off",
        r"\b\d{1,3}(?:[.,]\d+)?\s?%\s*(?:off|discount|cash\s?back|savings?)\b",
        _RECEIPT,
    ),
    ("amount_off", rf"{_CURRENCY}\s?\d+(?:[.,]\d+)?\s+off\b", _RECEIPT),
    (
        "save_amount",
        rf"\bsave\s+(?:up\s+to\s+|an\s+extra\s+|over\s+)?(?:{_CURRENCY}\s?\d|\d+\s?%)",
        None,
    ),
    ("save_big", r"\bsave\s+(?:big|more)\b", None),
    (
        "off_next_order",
        r"\boff\s+(?:your|the)\s+(?:next|first)\s+(?:order|purchase|booking|month|ride|trip)\b",
        None,
    ),
    ("coupon_code", r"\b(?:coupon|promo|discount|voucher)\s*codes?\b|\bpromo\b", _RECEIPT),
    (
        "use_code",
        r"\b(?:use|enter|apply|redeem|quote)\s+(?:the\s+)?code\s*:?\s*[\"'“]?(?-i:(?=[A-Z0-9-]*[A-Z])[A-Z0-9-]{3,})\b",
        _SIGN_IN,
    ),
    (
        "sale",
        rf"\b(?:{_SEASONS})\s+sale\b|\bon\s+sale\b|\bsale\s+(?:ends|starts|now\s+on|is\s+on)\b",
        None,
    ),
    (
        "clearance",
        r"\bclearance\s+(?:sale|event|prices?|items?|deals?|section)\b|\bon\s+clearance\b",
        None,
    ),
    (
        "call_to_buy",
        r"\b(?<!your\s)(?:buy|shop|subscribe|upgrade)\s+(?:now|today)\b|\border\s+now\s*[!:]"
        r"|\bgrab\s+(?:yours|one)\b",
        None,
    ),
    (
        "shop_the",
        r"\bshop\s+(?:the|our|all)\s+(?:new|latest|look|range|collection|sale|deals?)\b",
        None,
    ),
    ("limited_time", r"\blimited[-\s]time\b|\bfor\s+a\s+limited\s+time\b|\btoday\s+only\b", None),
    (
        "scarcity",
        r"\bwhile\s+(?:stocks?|supplies)\s+lasts?\b|\bdon['\u2019]?t\s+miss\s+(?:out|this)\b"
        r"|\bhurry\b(?:\s+(?:up|in|now))?[!,]|\bhurry\s+(?:up|in|now)\b|\blast\s+chance\s+to\s+(?:buy|save|shop|get|grab|claim|order)\b",
        None,
    ),
    ("free_shipping", r"\b(?<!your\s)free\s+(?:shipping|delivery|postage|gifts?|samples?)\b", None),
    (
        "deals",
        r"\bdeals\b|\b(?:great|best|hot|exclusive|special|amazing|big|top|daily|unbeatable|latest"
        r"|today['\u2019]?s)\s+deal\b"
        r"|\bdeal\s+of\s+the\s+(?:day|week)\b",
        None,
    ),
    (
        "offer",
        r"\b(?:special|exclusive|limited|best|latest|introductory|seasonal|holiday|member"
        r"|members['\u2019]?|today['\u2019]?s|great|amazing|new\s+customer|welcome)\s+offers?\b"
        r"|\boffers?\s+(?:ends?|expires?|valid\s+until)\b",
        None,
    ),
    (
        "exclusive_access",
        r"\bexclusive\s+(?:access|discounts?|savings|prices?|pricing|rewards?)\b",
        None,
    ),
    (
        "bogo",
        r"\bbogo\b|\bbuy\s+(?:one|\d+),?\s+get\s+(?:one|\d+)\b|\b\d\s?for\s?\d\s+(?:on|deal|offer)\b",
        None,
    ),
    ("half_price", r"\bhalf[-\s]price\b", None),
    ("price_pitch", rf"\b(?:for|from|now)\s+(?:just|only)\s+{_CURRENCY}?\s?\d", None),
    ("lowest_price", r"\b(?:lowest|unbeatable|special)\s+prices?\b|\bprices?\s+slashed\b", None),
    ("cashback", r"\b(?:earn|get|enjoy)\s+(?:\S+\s+)?cash\s?back\b", None),
    ("refer_friend", r"\brefer\s+a\s+friend\b", None),
    ("new_arrivals", r"\bnew\s+arrivals\b", None),
    ("treat_yourself", r"\btreat\s+yourself\b", None),
)

PROMOTIONAL_PATTERNS: Final[tuple[tuple[str, re.Pattern[str], re.Pattern[str] | None], ...]] = (
    tuple((name, re.compile(pattern, _I), unless) for name, pattern, unless in _PATTERNS)
)

_EMAIL_OPT_OUT: Final = re.compile(
    r"unsubscribe|\bopt[-\s]?out\b|\bmanage\s+(?:your\s+)?(?:email\s+|subscription\s+)?preferences\b"
    r"|\bemail\s+preferences\b",
    _I,
)
_STOP_WORD: Final = re.compile(r"\bstop\b", _I)
TEXT_CHANNELS: Final = frozenset({"sms", "mms", "whatsapp"})


@lru_cache(maxsize=8192)
def promotional_match(body: str) -> str | None:
    """The name of the first promotional pattern `body` matches, or None."""
    for name, pattern, unless in PROMOTIONAL_PATTERNS:
        if pattern.search(body) and (unless is None or not unless.search(body)):
            return name
    return None


@lru_cache(maxsize=8192)
def has_opt_out_mechanism(channel: str, body: str) -> bool:
    """Does `body` show the recipient how to opt out, as far as words can show it on `channel`?"""
    if channel == "email":
        return _EMAIL_OPT_OUT.search(body) is not None
    if channel in TEXT_CHANNELS:
        return _STOP_WORD.search(body) is not None
    return True
