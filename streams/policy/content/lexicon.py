"""The per-language lexicons (lexicons/<lang>.toml, shipped in the package), compiled for RE2.

A lexicon is data: each named signal lists `phrases` (literal text, folded like message text,
matched as whole words, a space matching any run of spaces, hyphens or underscores, letters
tolerant of leetspeak: `d1sc0unt`, `$ale`) and/or `patterns` (RE2 syntax over folded text, with
the macros below). docs/content-detection.md describes the format.

Every pattern goes through google-re2, whose matching is linear in the text whatever the
pattern: no lexicon entry can make a body slow. All signals of all languages are compiled into
one alternation per purpose, so a body is read once whatever its language (no language guessing
to get wrong, and a French phrase in an English body still counts).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import re2

from streams.policy.content.normalize import fold

LANGUAGES: Final = ("en", "fr", "de", "it", "es", "hi", "ar")

_NOT_WORD: Final = r"[^\pL\pM\pN]"
MACROS: Final = {
    "{B}": rf"(?:^|{_NOT_WORD})",  # start of a word (consumes the character before it)
    "{E}": rf"(?:{_NOT_WORD}|$)",  # end of a word
    "{S}": r"[\s\-_]+",  # a space between words
    "{NUM}": r"\d{1,3}(?:[.,]\d{1,2})?",
    "{CUR}": r"(?:[$€£₹]|rs\.?|inr|usd|eur|gbp|cad|chf|omr|r\.o\.?|ر\.ع\.?|ريال|रु\.?|रुपये)",
}
_LEET: Final = {
    "a": "[a4@]", "b": "[b8]", "e": "[e3€]", "g": "[g9]", "i": "[i1!|l]", "l": "[l1|i]",
    "o": "[o0]", "s": "[s5$]", "t": "[t7+]", "z": "[z2]",
}  # fmt: skip
OPTIONS: Final = re2.Options()
OPTIONS.max_mem = 64 << 20  # room for the DFA of the combined alternation (bounded in bytes)


@dataclass(frozen=True, slots=True)
class Lexicon:
    language: str
    name: str
    signals: Mapping[str, tuple[str, ...]]  # signal -> RE2 alternatives, ready to combine
    links: tuple[str, ...]  # RE2 alternatives for words in link targets
    opt_out: Mapping[str, tuple[str, ...]]  # grammar slot -> RE2 alternatives


def expand(pattern: str) -> str:
    """A lexicon pattern, leet-tolerant, with its macros replaced."""
    pattern = leet_pattern(pattern)
    for macro, value in MACROS.items():
        pattern = pattern.replace(macro, value)
    return pattern


def leet_pattern(pattern: str) -> str:
    """Make the literal lowercase letters of an RE2 pattern leet-tolerant ("off" -> "[o0]ff").

    Escapes (\\b, \\s, \\x27), character classes, repetition braces, macros and group syntax
    are copied as they are; only bare letters outside them are widened."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            j = i + 2
            if j <= n and pattern[i + 1 : j] in ("p", "P") and j < n and pattern[j] == "{":
                j = pattern.index("}", j) + 1
            out.append(pattern[i:j])
            i = j
        elif ch == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
        elif ch == "{":
            j = pattern.index("}", i) + 1
            out.append(pattern[i:j])
            i = j
        elif ch == "(" and pattern.startswith("(?", i):
            j = i + 2
            while j < n and pattern[j] not in ":)>":
                j += 1
            out.append(pattern[i : j + 1])
            i = j + 1
        else:
            out.append(_LEET.get(ch, ch))
            i += 1
    return "".join(out)


def phrase(text: str, *, joiner: str = r"[\s\-_]+", leet: bool = True) -> str:
    """RE2 for a literal phrase, folded like message text, without word boundaries."""
    out = []
    for ch in fold(text).lower():
        if ch == " ":
            out.append(joiner)
        elif ch in "'\u2019":
            out.append("['\u2019]?")
        elif leet and ch in _LEET:
            out.append(_LEET[ch])
        else:
            out.append(re2.escape(ch))
    return "".join(out)


def words(phrases: Iterable[str], prefixes: Iterable[str] = (), **kwargs: Any) -> str:
    """Whole-word alternation of `phrases`, each optionally after one of `prefixes` (clitics)."""
    body = "|".join(phrase(p, **kwargs) for p in phrases)
    clitic = "|".join(phrase(p, leet=False) for p in prefixes)
    lead = f"(?:{clitic})?" if clitic else ""
    return f"{MACROS['{B}']}{lead}(?:{body}){MACROS['{E}']}"


def _entry(entry: Mapping[str, Any], prefixes: list[str]) -> tuple[str, ...]:
    out = [expand(p) for p in entry.get("patterns", ())]
    if entry.get("phrases"):
        out.append(words(entry["phrases"], prefixes))
    return tuple(out)


def parse(document: Mapping[str, Any]) -> Lexicon:
    prefixes = list(document.get("prefixes", ()))
    signals = {name: _entry(entry, prefixes) for name, entry in document["signals"].items()}
    link_doc = document.get("links", {})
    links = tuple(expand(p) for p in link_doc.get("patterns", ()))
    if link_doc.get("words"):
        body = "|".join(phrase(w, joiner=r"[\s\-_+.]*") for w in link_doc["words"])
        links += (rf"[/?&=#._+\-](?:{body})(?:[/?&=#._+\-\d\s\"'<>]|$)",)
    opt_out = {slot: tuple(values) for slot, values in document.get("opt_out", {}).items()}
    return Lexicon(document["language"], document["name"], signals, links, opt_out)


@cache
def lexicons() -> tuple[Lexicon, ...]:
    """Every shipped lexicon, read once per process."""
    folder = resources.files(__package__).joinpath("lexicons")
    return tuple(
        parse(tomllib.loads(folder.joinpath(f"{lang}.toml").read_text(encoding="utf-8")))
        for lang in LANGUAGES
    )


def compile_groups(alternatives: Iterable[tuple[str, str]]) -> tuple[Any, tuple[str, ...]]:
    """One case-insensitive RE2 over (label, pattern) pairs; group g<i> names labels[i]."""
    labels: list[str] = []
    parts: list[str] = []
    for label, pattern in alternatives:
        parts.append(f"(?P<g{len(labels)}>{pattern})")
        labels.append(label)
    return re2.compile("(?is)" + "|".join(parts), OPTIONS), tuple(labels)
