"""Folding undoes what hides a phrase from a matcher but not from a reader."""

from __future__ import annotations

import pytest

from streams.policy.content.normalize import MAX_REFERENCES, MAX_TAGS, fold, percent_decode, views

READS_AS = [
    ("dis\u200bcount", "discount"),  # zero-width space
    ("dis\u00adcount", "discount"),  # soft hyphen
    ("\u202ediscount\u202c", "discount"),  # bidi override
    ("dis\u2066count\u2069", "discount"),  # bidi isolate
    ("dis\U000e0041count", "discount"),  # tag character
    ("\uff44\uff49\uff53\uff43\uff4f\uff55\uff4e\uff54", "discount"),  # fullwidth
    ("\U0001d41d\U0001d422\U0001d42c\U0001d41c", "disc"),  # mathematical bold
    ("\u0441\u043e\u0443\u0440\u043en", "coypon"),  # Cyrillic lookalikes (U+0443 reads as y)
    ("\u03bf\u0066\u0066", "off"),  # Greek omicron
    ("r\u00e9duction", "reduction"),  # accent
    ("re\u0301duction", "reduction"),  # combining accent
    ("d\u0336i\u0336s", "dis"),  # strike-through marks
    ("Stra\u00dfe", "Strasse"),
    ("\u0661\u0662\u066a", "12%"),  # Arabic-Indic digits, Arabic percent
    ("\u0968\u0966%", "20%"),  # Devanagari digits
    ("\u062e\u0640\u0640\u0635\u0645", "\u062e\u0635\u0645"),  # tatweel
    ("\u0625\u0644\u0649", "\u0627\u0644\u064a"),  # alef with hamza, alef maqsura
    ("\u091c\u093c\u094d\u092f\u093e\u0926\u093e", "\u091c\u094d\u092f\u093e\u0926\u093e"),  # nukta
    ("don\u2019t", "don't"),
]


@pytest.mark.parametrize(("raw", "folded"), READS_AS)
def test_folding(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_scripts_of_the_company_languages_are_kept() -> None:
    for text in ("छूट ऑफर", "عروض خاصه", "Rabatt für alle"):
        assert fold(text).replace("ü", "u") == text.replace("ü", "u")
    assert fold("Rabatt für alle") == "Rabatt fur alle"


def test_html_reads_as_text() -> None:
    read = views("<p>Huge <b>sum</b>mer sale</p><p>Up to 50&#37; off&nbsp;today</p>")
    assert read.text.split() == ["Huge", "summer", "sale", "Up", "to", "50%", "off", "today"]
    assert read.unreadable is None


def test_links_keep_their_decoded_targets() -> None:
    read = views('<a href="https://e.com/%73ale/50%25-off?utm_campaign=black%2Dfriday">x</a>')
    assert "https://e.com/sale/50%-off?utm_campaign=black-friday" in read.links
    assert "href" not in read.text


def test_percent_decoding_leaves_bare_percent_signs_as_separators() -> None:
    assert percent_decode("a%20b=c 50% off") == "a b=c 50= off"
    assert percent_decode("no escapes") == "no escapes"


def test_too_many_references_or_tags_is_unreadable_not_skipped() -> None:
    assert views("&copy;" * (MAX_REFERENCES + 1)).unreadable is not None
    assert views("<i>" * (MAX_TAGS + 1)).unreadable is not None
    assert views("&copy;" * MAX_REFERENCES).unreadable is None
