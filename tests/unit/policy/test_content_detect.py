"""Detection over every field, in every language, with no cancelling word and short excerpts."""

from __future__ import annotations

import re2

from streams.policy.config import PolicyConfig
from streams.policy.content import Finding, excerpt, find_promotion, promotional_match
from streams.policy.content.cache import BoundedCache
from streams.policy.content.detect import EXCERPT_CHARS
from streams.policy.content.lexicon import LANGUAGES, leet_pattern, lexicons, phrase
from streams.policy.engine import decide
from streams.policy.records import SendIntent
from streams.policy.rules.cases import BASE

PER_LANGUAGE = {
    "en": ("Summer sale: 20% off everything.", "Your order 5512 has shipped."),
    "fr": ("Soldes : -30 % sur tout le site.", "Votre commande 5512 a été expédiée."),
    "de": ("Nur heute: 20 % Rabatt auf alles.", "Ihre Bestellung 5512 wurde versandt."),
    "it": ("Saldi: sconto del 20% su tutto.", "Il tuo ordine 5512 è stato spedito."),
    "es": ("Rebajas: 20% de descuento en todo.", "Tu pedido 5512 ha sido enviado."),
    "hi": ("दिवाली सेल! 40% की छूट।", "आपका ऑर्डर 5512 भेज दिया गया है।"),
    "ar": ("عروض العيد: خصم 30% على كل شيء", "تم شحن طلبك رقم 5512."),
}


def test_every_language_both_ways_and_the_lexicon_is_named() -> None:
    assert set(PER_LANGUAGE) == set(LANGUAGES)
    for language, (promotional, service) in PER_LANGUAGE.items():
        found = find_promotion(promotional)
        assert found is not None and found.language == language, (language, found)
        assert find_promotion(service) is None, language


def test_no_word_elsewhere_cancels_a_match() -> None:
    for word in ("applied", "redeemed", "deducted", "verify", "sign in"):
        body = f"Discount {word}. Next time: 20% off your next order!"
        assert promotional_match(body) == "percent_off"


def test_every_field_is_read() -> None:
    shipped = "Your order shipped."
    assert find_promotion(shipped) is None
    by_subject = find_promotion(shipped, subject="Flash sale: 30% off ends tonight")
    by_campaign = find_promotion(shipped, campaign="summer_sale_2026")
    by_link = find_promotion(shipped + " https://shop.example/p?utm_campaign=%63learance")
    by_href = find_promotion(f'{shipped} <a href="https://shop.example/sale/50-off">track</a>')
    assert by_subject is not None and by_subject.field == "subject"
    assert by_campaign is not None and by_campaign.field == "campaign"
    assert by_link is not None and by_link.field == "link"
    assert by_href is not None and by_href.field == "link"
    assert find_promotion(shipped + " https://shop.example/orders/5512/track") is None


def test_obfuscation_is_seen_through() -> None:
    for body in (
        "Get 20% dis\u200bcount today",
        "Use c\u043eupon code for 10% \u043eff",
        "Flash s@le: 40% 0ff all shoes",
        "\uff33\uff21\uff2c\uff25 50% \uff4f\uff46\uff46",
        "<p>Huge <b>sum</b>mer sale</p>",
        "d1sc0unt code: n3w arrivals",
    ):
        assert find_promotion(body) is not None, body


def test_a_promotion_deep_in_a_large_body_is_found() -> None:
    body = "Your order 5512 has shipped. " * 32_000 + "Use code SAVE20 for 20% off."
    assert len(body) > 900_000
    found = find_promotion(body)
    assert found is not None and found.signal in ("use_code", "percent_off")


def test_excerpts_are_short_and_escaped() -> None:
    text = excerpt("x\u202e\u0000'\\" + "y" * 200)
    assert len(text) <= EXCERPT_CHARS * 6 + 3
    assert "\u202e" not in text and "\u0000" not in text
    assert text.startswith("'x\\u202e\\u0000\\'\\\\") and text.endswith("…")
    found = find_promotion("Flash sale\u202e now: " + "20% off " * 100)
    assert found is not None and "\u202e" not in found.describe()
    assert len(found.excerpt) <= EXCERPT_CHARS + 3


def test_verdict_detail_names_the_signal_and_quotes_little() -> None:
    body = "Your order shipped! " + "a" * 5000 + " Use code SAVE20 for 20% off your next order."
    intent = SendIntent(
        id="m1", at=BASE, channel="sms", address="+14155550101", sender="company",
        category="transactional", has_opt_out=False, jurisdiction="US", body=body,
    )  # fmt: skip
    verdict = decide(intent, None, None, PolicyConfig(), now=BASE).verdict
    assert verdict.reason == "PROMOTIONAL_CONTENT_NOT_ALLOWED"
    assert verdict.detail is not None and "en:use_code" in verdict.detail
    assert len(verdict.detail) < 200


def test_describe_reports_unreadable_bodies_as_promotional() -> None:
    found = find_promotion("&copy;" * 20_000)
    assert isinstance(found, Finding) and found.signal == "unreadable"
    assert "cannot be read" in found.describe()


def test_cache_is_bounded_by_characters() -> None:
    cache: BoundedCache[tuple[str], int] = BoundedCache(max_chars=100, max_key_chars=40)
    for n in range(50):
        cache.put((f"{n:02d}" + "x" * 28,), n)
    assert cache.chars <= 100 and len(cache) == 3
    assert cache.get(("49" + "x" * 28,)) == (True, 49)
    assert cache.get(("00" + "x" * 28,)) == (False, None)
    cache.put(("y" * 41,), 1)  # too long to keep
    assert cache.get(("y" * 41,)) == (False, None)


def test_lexicons_are_well_formed_data() -> None:
    assert [lex.language for lex in lexicons()] == list(LANGUAGES)
    for lex in lexicons():
        assert lex.signals and lex.opt_out.get("keywords"), lex.language
        for name, patterns in lex.signals.items():
            for pattern in patterns:
                re2.compile(pattern)  # RE2 only: no backreferences or lookaround
                assert pattern, (lex.language, name)


def test_phrases_are_folded_and_leet_tolerant() -> None:
    assert re2.search(phrase("Réduction"), "r3duct10n") is not None
    assert re2.search(phrase("black friday"), "black-friday") is not None
    assert leet_pattern(r"\bsale\s+[a-z]{2}") == r"\b[s5$][a4@][l1|i][e3€]\s+[a-z]{2}"
