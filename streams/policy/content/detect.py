"""Promotional-content detection over every text field an intent carries.

A message is promotional when any signal of any language matches anywhere in its body, subject,
campaign or link targets. Signals only ever add: no word elsewhere in a body cancels one (a
receipt's "applied" does not clear "20% off your next order"); the lexicons keep service
wording out by what a signal itself requires ("use code" is a coupon only with a code that reads
like one, "free gift" only with an offer around it).

Results are cached by text in a byte-bounded LRU (cache.py); long texts are not cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from streams.policy.content.cache import BoundedCache
from streams.policy.content.lexicon import compile_groups, lexicons
from streams.policy.content.normalize import Views, views

EXCERPT_CHARS: Final = 60
_UNREADABLE: Final = "unreadable"


@dataclass(frozen=True, slots=True)
class Finding:
    """Why a text reads as promotional: the signal, its lexicon, the field, a short excerpt."""

    signal: str
    language: str
    field: str
    excerpt: str

    def describe(self) -> str:
        where = f"the {self.field}" if self.field != "link" else "a link target"
        if self.signal == _UNREADABLE:
            return f"{where} cannot be read within bounds ({self.excerpt}); treated as promotional"
        return f"{where} reads as promotional ({self.language}:{self.signal}, {self.excerpt})"


def excerpt(text: str, start: int = 0, end: int | None = None) -> str:
    """At most EXCERPT_CHARS of `text[start:end]`, escaped: quoted, no control, format or
    bidi characters (they are written as \\u escapes), safe to log and show."""
    end = len(text) if end is None else end
    cut = text[start : min(end, start + EXCERPT_CHARS)]
    out = []
    for ch in cut:
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch.isprintable() and not ("\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"):
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    more = "…" if end - start > EXCERPT_CHARS else ""
    return "'" + "".join(out) + "'" + more


@cache
def _matchers() -> tuple[tuple[Any, tuple[str, ...]], tuple[Any, tuple[str, ...]]]:
    signals = compile_groups(
        (f"{lex.language}:{name}", pattern)
        for lex in lexicons()
        for name, patterns in lex.signals.items()
        for pattern in patterns
    )
    links = compile_groups(
        (f"{lex.language}:link", pattern) for lex in lexicons() for pattern in lex.links
    )
    return signals, links


def _search(matcher: tuple[Any, tuple[str, ...]], text: str, field: str) -> Finding | None:
    regex, labels = matcher
    data = text.encode("utf-8", "surrogatepass")
    match = regex.search(data)
    if match is None:
        return None
    group = match.lastgroup
    label = labels[int(group[1:])] if group else "?:?"
    language, signal = label.split(":", 1)
    start, end = match.span()
    snippet = data[start:end].decode("utf-8", "replace").strip()
    return Finding(signal, language, field, excerpt(snippet))


def scan(text_views: Views, field: str) -> Finding | None:
    """The first signal in the folded text, then in its link targets."""
    if text_views.unreadable is not None:
        return Finding(_UNREADABLE, "-", field, text_views.unreadable)
    signals, links = _matchers()
    found = _search(signals, text_views.text, field)
    if found is None and ("/" in text_views.links or "=" in text_views.links):
        found = _search(links, text_views.links, "link")
    return found


_CACHE: Final = BoundedCache[tuple[str, str], Finding | None]()


def find_in(text: str, field: str = "body") -> Finding | None:
    """The promotional signal `text` (one field of an intent) carries, or None."""
    key = (field, text)
    hit, value = _CACHE.get(key)
    if hit:
        return value
    value = scan(views(text), field)
    _CACHE.put(key, value)
    return value


def find_promotion(
    body: str | None, subject: str | None = None, campaign: str | None = None
) -> Finding | None:
    """The first promotional signal in any of the fields given (body, subject, campaign).

    A campaign is an identifier ("summer_sale-2026"): its separators read as spaces."""
    if campaign:
        campaign = campaign.replace("_", " ").replace("-", " ").replace(".", " ")
    for field, text in (("subject", subject), ("campaign", campaign), ("body", body)):
        if text:
            found = find_in(text, field)
            if found is not None:
                return found
    return None


def promotional_match(body: str) -> str | None:
    """The name of the signal `body` matches first, or None (kept for callers of the old API)."""
    found = find_in(body)
    return None if found is None else found.signal
