"""Does a promotional body show the recipient how to opt out? A small grammar, not a keyword.

The grammar's words come from each lexicon's `[opt_out]` table (every language at once); its
shapes are fixed here. A body shows the way when one of these matches (PL: start of text or of a
clause: after . ! ? : ; , | - • । ؟ or a line break):

SMS, MMS, WhatsApp - a keyword instruction:
  S1  send-verb [fillers] KEYWORD           "Reply STOP", "Text the word STOP", "Répondez STOP"
  S2  KEYWORD (to|au|an|al..) number-or-end "STOP to end", "STOP au 36111", "BAJA al 22533"
  S3  unsubscribe-words : [verb] KEYWORD    "Opt out: STOP", "Désinscription : STOP"
  S4  KEYWORD [particle] [N par] post-verb  "STOP लिखकर 12345 पर भेजें" (verb-final languages)
Email - an unsubscribe link or an affirmative instruction:
  E1  a link whose target names the way out (/unsubscribe, ?optout=, /abmelden)
  E2  PL unsubscribe-words :                "Unsubscribe: https://…"
  E3  PL modal unsubscribe-words            "You can unsubscribe", "Vous pouvez vous désabonner"
  E4  PL unsubscribe-words tail | end       "Unsubscribe here", "… | Unsubscribe |"
  E5  PL to-unsubscribe … action            "To unsubscribe, click here"
  E6  action [≤3 words] to-unsubscribe      "Click here to unsubscribe"
  E7  (PL | modal/action [≤3 words]) preferences   "Manage your preferences"
  E8  an affirmative imperative             "Désabonnez-vous", "अनसब्सक्राइब करें"

Negation is excluded by shape, with no word list to evade: a modal must open its clause and
touch the verb ("you cannot unsubscribe", "you can not unsubscribe", "vous ne pouvez pas vous
désabonner" match nothing), "no need to unsubscribe" has no action, and "don't stop now" has
neither a send-verb before STOP nor an end after it. Voice, fax, social DM and letters cannot be
judged by their words: there `has_opt_out` alone decides (the rule's job).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, Final

from streams.policy.content.cache import BoundedCache
from streams.policy.content.lexicon import MACROS, compile_groups, lexicons, phrase
from streams.policy.content.normalize import views

TEXT_CHANNELS: Final = frozenset({"sms", "mms", "whatsapp"})
_PL: Final = r"(?:^|[.!?:;,\n|(\[•·>»*\-\x{2013}\x{2014}।؟،؛]\s*)"
_B, _E = MACROS["{B}"], MACROS["{E}"]
_URL: Final = r"(?:https?://|www\.|href\s*=)[^\s<>\"']*?"  # then a separator and a link word


def _slot(name: str) -> str:
    """The alternation of one grammar slot, over every lexicon (never empty)."""
    values: set[str] = set()
    for lex in lexicons():
        values.update(lex.opt_out.get(name, ()))
    never = r"[^\x00-\x{10ffff}]"  # an empty slot matches nothing
    return "(?:" + ("|".join(sorted(phrase(v, leet=False) for v in values)) or never) + ")"


def _grammar() -> dict[str, Iterable[tuple[str, str]]]:
    kw, send, fill = _slot("keywords"), _slot("send_verbs"), _slot("fillers")
    to, ends = _slot("keyword_to"), _slot("keyword_ends")
    part, post = _slot("post_particles"), _slot("post_verbs")
    unsub, modal, tails = _slot("unsubscribe"), _slot("modal_leads"), _slot("tails")
    to_unsub, actions = _slot("to_unsubscribe"), _slot("actions")
    prefs, imperatives, link = _slot("preferences"), _slot("imperatives"), _slot("link_words")
    quote = "[\"'«“]?"
    return {
        "text": (
            ("S1", rf"{_B}{send}\s+(?:{fill}\s+){{0,3}}{quote}{kw}{_E}"),
            ("S2", rf"{_B}{kw}\s*(?:[:=\-]\s*|\s{to}\s+)(?:\d|{ends}{_E})"),
            ("S3", rf"{_B}(?:{unsub}|{to_unsub})\s*[:,]\s*(?:{send}\s+)?{quote}{kw}{_E}"),
            ("S4", rf"{_B}{kw}\s+(?:{part}\s+)?(?:\S+\s+{to}\s+)?{post}{_E}"),
        ),
        "email": (
            ("E2", rf"{_PL}{unsub}\s*[:]"),
            ("E3", rf"{_PL}{modal}\s+{unsub}{_E}"),
            ("E4", rf"{_PL}{unsub}(?:\s+{tails}{_E}|\s*(?:$|[|.\n]))"),
            ("E5", rf"{_PL}{to_unsub}[^.!?\n।]{{0,80}}{actions}"),
            ("E6", rf"{_B}{actions}(?:\s+\S+){{0,3}}\s+{to_unsub}{_E}"),
            ("E7", rf"(?:{_PL}|{_B}(?:{modal}|{actions})(?:\s+\S+){{0,3}}\s+){prefs}{_E}"),
            ("E8", rf"{_B}{imperatives}{_E}"),
        ),
        "link": (("E1", rf"{_URL}[/?&=#._+\-]{link}(?:[/?&=#._+\-\d\s\"'<>]|$)"),),
    }


@cache
def _matchers() -> dict[str, tuple[Any, tuple[str, ...]]]:
    return {kind: compile_groups(forms) for kind, forms in _grammar().items()}


def _form(matcher: tuple[Any, tuple[str, ...]], text: str) -> str | None:
    regex, labels = matcher
    match = regex.search(text.encode("utf-8", "surrogatepass"))
    if match is None:
        return None
    group = match.lastgroup
    return labels[int(group[1:])] if group else "?"


def _read(channel: str, body: str) -> str | None:
    if channel not in TEXT_CHANNELS and channel != "email":
        return "n/a"
    matchers, read = _matchers(), views(body)
    if read.unreadable is not None:
        return None  # no way out can be read: fail closed
    if channel in TEXT_CHANNELS:
        return _form(matchers["text"], read.text)
    return _form(matchers["email"], read.text) or _form(matchers["link"], read.links)


_CACHE: Final = BoundedCache[tuple[str, str], str | None]()


def opt_out_form(channel: str, body: str) -> str | None:
    """The grammar form (S1..S4, E1..E8) that shows the way out in `body` on `channel`, "n/a"
    where words cannot show it, or None."""
    key = (channel, body)
    hit, form = _CACHE.get(key)
    if not hit:
        form = _read(channel, body)
        _CACHE.put(key, form)
    return form


def has_opt_out_mechanism(channel: str, body: str) -> bool:
    """Does `body` show the recipient how to opt out, as far as words can show it on `channel`?"""
    return opt_out_form(channel, body) is not None
