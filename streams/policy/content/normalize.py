"""Text as the detector reads it: the same folding for message text and for lexicon entries.

Obfuscation hides a phrase from a matcher but not from a reader, so everything a reader does not
see, or sees as the same letter, is undone before matching:

- HTML: character references decoded (`html.unescape`), tags removed (block tags leave a space,
  inline tags nothing, so `dis<b></b>count` reads "discount"); link targets are kept (`link_view`);
- Unicode: NFKC (fullwidth, ligatures, mathematical letters, presentation forms), then one
  `str.translate` pass that drops format characters (zero-width, soft hyphen, bidi controls, tag
  characters), combining diacritics and Arabic harakat/tatweel, folds accented Latin letters to
  their base, Cyrillic/Greek/other lookalikes to the Latin letter they imitate (Unicode confusables
  data from `confusable_homoglyphs`), every script's digits to ASCII, and light Arabic and
  Devanagari orthographic variants (alef forms, nukta) to one spelling;
- URLs: percent-escapes decoded for the link view.

Leetspeak is folded in the matcher, not here (see lexicon.py): folding "0" to "o" in the text
would break "20% off".

Linear time on any input: every step is a single C-level pass (`unicodedata.normalize`,
`str.translate`, `str.replace`, `binascii.a2b_qp`) or a stdlib regex made of a literal and
possessive character-class runs, which cannot backtrack. Character references are decoded by a
per-reference callback, so a body with more than MAX_REFERENCES of them is reported unreadable
(and treated as promotional: the gate does not allow what it cannot check); so is one with more
than MAX_TAGS tags, whose removal costs a regex match each. Real HTML mail stays far below both
(a large newsletter has a few thousand tags).
"""

from __future__ import annotations

import binascii
import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import re2
from confusable_homoglyphs import categories, confusables

from streams.policy.quick_init import quick_init

MAX_REFERENCES: Final = 10_000
MAX_TAGS: Final = 20_000

# Scripts whose letters are folded to the ASCII letter they imitate. Arabic and the Indic scripts
# are left alone: their letters are words in the company's languages, not disguises.
_LOOKALIKE_SCRIPTS: Final = frozenset(
    {"CYRILLIC", "GREEK", "LATIN", "COMMON", "ARMENIAN", "CHEROKEE", "LISU", "COPTIC"}
)
_SPECIAL: Final = {
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "\u0131": "i",
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'",  # apostrophes read as one
}  # fmt: skip
_ARABIC: Final = {
    "\u0622": "\u0627", "\u0623": "\u0627", "\u0625": "\u0627", "\u0671": "\u0627",  # alef forms
    "\u0649": "\u064a",  # alef maqsura -> yeh
    "\u0629": "\u0647",  # teh marbuta -> heh
    "\u066a": "%", "\u066b": ".", "\u066c": ",", "\u060c": ",",  # Arabic percent, separators
}  # fmt: skip
_DEVANAGARI: Final = {"\u093c": None, "\u0901": "\u0902"}  # nukta dropped, chandrabindu -> anusvara
_DROP_RANGES: Final = (
    (0x0300, 0x036F),  # combining diacritical marks
    (0x064B, 0x065F),  # Arabic harakat
    (0x0670, 0x0670),  # superscript alef
    (0x0640, 0x0640),  # tatweel
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),  # combining marks for symbols (strike-through, enclosing)
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFE20, 0xFE2F),
)
_TAG_CHARS: Final = re.compile("[\U000e0000-\U000e007f]++")
_HAS_TAG_CHARS: Final = re2.compile(r"[\x{e0000}-\x{e007f}]")  # one RE2 pass finds them


def _fold_table() -> list[int | str | None]:
    """A `str.translate` table for the BMP: a list indexed by code point is ~3x faster than a
    dict, and covering the whole BMP avoids a LookupError per character outside it."""
    table: list[int | str | None] = list(range(0x10000))
    for cp in range(0x80, 0x10000):
        ch = chr(cp)
        category = unicodedata.category(ch)
        if category == "Cf" or cp in (0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0):
            table[cp] = None
            continue
        if category == "Nd":
            table[cp] = str(unicodedata.decimal(ch))
            continue
        lower = ch.lower()
        if lower in _SPECIAL:
            table[cp] = _SPECIAL[lower]
            continue
        if category.startswith("L") and categories.alias(ch) == "LATIN":
            base = "".join(c for c in unicodedata.normalize("NFKD", lower) if c.isascii())
            if base.isalpha() and len(base) <= 2:
                table[cp] = base
    for ch, glyphs in confusables.confusables_data.items():
        cp = ord(ch) if len(ch) == 1 else 0
        if cp < 0x80 or cp >= 0x10000 or table[cp] != cp:
            continue
        if categories.alias(ch) not in _LOOKALIKE_SCRIPTS:
            continue
        for glyph in glyphs:
            target = glyph["c"]
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[cp] = target.lower()
                break
    for first, last in _DROP_RANGES:
        for cp in range(first, last + 1):
            table[cp] = None
    for mapping in (_ARABIC, _DEVANAGARI):
        for ch, target in mapping.items():
            table[ord(ch)] = target
    return table


_TABLE: Final = _fold_table()

# One literal, then possessive runs: no backtracking (see the module docstring).
_BLOCK_TAG: Final = re.compile(
    r"<(?:/?+(?:p|div|br|li|tr|td|th|h[1-6]|table|ul|ol|section|header|footer|title|blockquote"
    r"|hr|img|center|span\s)\b)[^<>]*+>",
    re.IGNORECASE,
)
_TAG: Final = re.compile(r"<[^<>]*+>")


@quick_init
@dataclass(frozen=True, slots=True)
class Views:
    """`text`: what a reader reads, folded; `links`: the folded source with URL escapes decoded,
    for link targets; `unreadable`: why the text could not be read within bounds, if so."""

    text: str
    links: str
    unreadable: str | None = None


def fold(text: str) -> str:
    """Unicode folding only (no HTML): used for lexicon entries and as the first step for text."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    if _HAS_TAG_CHARS.search(text) is not None:
        text = _TAG_CHARS.sub("", text)
    return text.translate(_TABLE)


def percent_decode(text: str) -> str:
    """Decode %XX escapes in one C pass: percent-escapes become quoted-printable escapes, which
    `binascii.a2b_qp` decodes (`=` and `%` both end up as `=`, a separator in URLs anyway).
    What an escape decodes to is not folded again: link words are plain words."""
    if "%" not in text:
        return text
    data = text.replace("=", "=3D").replace("%", "=").encode("utf-8", "surrogatepass")
    return binascii.a2b_qp(data).decode("utf-8", "replace")


def views(raw: str) -> Views:
    """Fold `raw` (text or HTML) into what the detector matches."""
    unreadable = None
    text = raw
    if "&" in text:
        text = text.replace("&amp;", "&").replace("&nbsp;", " ")
        references = text.count("&")
        if references > MAX_REFERENCES:
            unreadable = f"{references} character references (limit {MAX_REFERENCES})"
        else:
            text = html.unescape(text)
    text = fold(text)
    links = percent_decode(text)
    if "<" in text:
        tags = text.count("<")
        if tags > MAX_TAGS:
            unreadable = unreadable or f"{tags} tags (limit {MAX_TAGS})"
        else:
            text = _TAG.sub("", _BLOCK_TAG.sub(" ", text))
    return Views(text, links, unreadable)
