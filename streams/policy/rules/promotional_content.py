"""Service messages are exempt from marketing consent only while they carry no promotion."""

from __future__ import annotations

from typing import Final

from streams.policy.content import Finding, find_promotion
from streams.policy.context import Context
from streams.policy.findings import Why
from streams.policy.reasons import LEGAL_REQUIRED, PROMOTIONAL_CONTENT_NOT_ALLOWED, TRANSACTIONAL
from streams.policy.records import SendIntent
from streams.policy.rules.cases import allow, deny, intent, optout

RULE_ID: Final = PROMOTIONAL_CONTENT_NOT_ALLOWED
ALLOWS: Final = (TRANSACTIONAL, LEGAL_REQUIRED)
APPLIES_TO: Final = frozenset({"transactional", "legal", "optout_confirmation"})
STATEMENT: Final = (
    "Transactional, legal and opt-out confirmation messages need no marketing consent, opted out "
    "or not, provided no field they carry (body, subject, campaign, link targets) holds "
    "promotional content, in any of the company's languages (policy 3, 6 and 8)."
)
_EXEMPTION: Final = {"transactional": TRANSACTIONAL, "legal": LEGAL_REQUIRED}


def _finding(intent: SendIntent) -> Finding | None:
    # `subject` is read with getattr: records may or may not carry it yet.
    return find_promotion(intent.body, getattr(intent, "subject", None), intent.campaign)


def check(ctx: Context) -> str | None:
    found = _finding(ctx.intent)
    if found is not None:
        ctx.note(f"{RULE_ID}: {found.describe()}")
        return RULE_ID
    return _EXEMPTION.get(ctx.intent.category)


def explain(ctx: Context) -> Why:
    category = ctx.intent.category
    exempt = (f"a {category} message needs no marketing consent" if category in _EXEMPTION
              else "the opt-out confirmation rule decides whether it may go")  # fmt: skip
    found = _finding(ctx.intent)
    if found is not None:
        return Why(f"{found.describe()}, which a {category} message may not carry")
    if not (ctx.intent.body or getattr(ctx.intent, "subject", None) or ctx.intent.campaign):
        return Why(f"no text to check; {exempt}")
    return Why(f"no field carries promotional content; {exempt}")


T, L = "transactional", "legal"
CASES: Final = (
    allow("order update to an opted-out recipient", TRANSACTIONAL,
          optout(0), intent(1, category=T, body="Your order 5512 has shipped.")),
    allow("one-time code", TRANSACTIONAL,
          intent(1, category=T, body="Use code 482913 to sign in.")),
    allow("legal notice without a body", LEGAL_REQUIRED, intent(1, category=L)),
    allow("terms change notice", LEGAL_REQUIRED,
          intent(1, category=L, body="Notice: our terms of service change on 1 July.")),
    allow("French order update", TRANSACTIONAL,
          intent(1, category=T, body="Votre commande 5512 a été expédiée.")),
    allow("German one-time code", TRANSACTIONAL,
          intent(1, category=T, body="Ihr Bestätigungscode lautet 482913.")),
    allow("Hindi appointment reminder", TRANSACTIONAL,
          intent(1, category=T, body="आपकी अपॉइंटमेंट कल सुबह 10 बजे है।")),
    allow("Arabic receipt", TRANSACTIONAL,
          intent(1, category=T, body="تم استلام دفعتك بقيمة 12 ريال. شكرا لك.")),
    deny("coupon in an order update", RULE_ID,
         intent(1, category=T,
                body="Your order shipped! Use code SAVE20 for 20% off your next order.")),
    deny("a receipt word elsewhere cancels nothing", RULE_ID,
         intent(1, category=T, body="Discount applied. Next time: 20% off your next order!")),
    deny("sale in a legal notice", RULE_ID,
         intent(1, category=L, body="Our terms change on 1 July. Summer sale: shop now!")),
    deny("offer in an opt-out confirmation", RULE_ID,
         optout(0), intent(1, category="optout_confirmation",
                           body="You are unsubscribed. Come back for 10% off!")),
    deny("French offer", RULE_ID, intent(1, category=T, body="Soldes : -30 % sur tout le site !")),
    deny("zero-width space inside 'discount'", RULE_ID,
         intent(1, category=T, body="Your order shipped. 15% dis\u200bcount on your next one.")),
    deny("Cyrillic lookalikes", RULE_ID,
         intent(1, category=T, body="Your receipt. Use \u0441\u043eupon code for 10% \u043eff.")),
    deny("German sale", RULE_ID, intent(1, category=T, body="Nur heute: 20 % Rabatt auf alles!")),
    deny("Italian sale", RULE_ID,
         intent(1, category=T, body="Saldi di fine stagione, fino al 50%.")),
    deny("Spanish offer", RULE_ID,
         intent(1, category=T, body="Ofertas de verano: 2x1 en bebidas.")),
    deny("Hindi offer", RULE_ID,
         intent(1, category=T, body="दिवाली सेल! सभी उत्पादों पर 40% की छूट।")),
    deny("romanized Hindi offer", RULE_ID,
         intent(1, category=T, body="Diwali dhamaka: 40% ki chhoot, abhi kharidein!")),
    deny("Arabic offer", RULE_ID,
         intent(1, category=T, body="عروض العيد: خصم 30% على جميع المنتجات")),
    deny("promotional campaign name", RULE_ID,
         intent(1, category=T, body="Your order shipped.", campaign="black-friday-sale")),
    deny("promotional link target", RULE_ID,
         intent(1, category=T, body="Your order shipped: https://shop.example/sale/50-off?x=1")),
)  # fmt: skip
