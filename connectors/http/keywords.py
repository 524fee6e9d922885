"""What an inbound SMS asks for: stop (this sender), stop all, start, help, or nothing.

Layers, after NFKC, case folding, accent and punctuation removal:
1. the whole message is a keyword (Twilio/CTIA/CWTA/Bird lists, EN/FR/ES; `STOP ALL` too);
2. the message is stop-family words plus polite filler ("stop please", "STOP!!", "Arrêt svp");
3. an unambiguous opt-out word anywhere ("I said STOP"), or a plain request a reasonable person
   reads as stop ("please stop texting me", "remove me from your list", "no más mensajes").
The FCC's reasonable-person test (47 CFR 64.1200(a)(10)) makes a missed stop the costly error, so
stop beats start and help when both appear. START and HELP count on the whole message only: a
grant is never read into a sentence.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["stop", "stop_all", "start", "help", "none"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Whole-message keywords (also as the only words besides filler): Twilio, CTIA, CWTA, AWS, Bird.
STOP_WORDS: Final = _words(
    "stop stopp unsubscribe cancel end quit revoke optout remove arret arrete arretez arrett "
    "desabonner desinscrire parar pare baja alto cancelar detener fin"
) | {"opt out"}
STOP_ALL_WORDS: Final = frozenset(
    {"stopall", "stop all", "unsubscribe all", "cancel all", "arret tout"}
)
START_WORDS: Final = frozenset({"start", "unstop", "resume", "nonarret", "non arret"})
HELP_WORDS: Final = frozenset({"help", "info", "aide", "ayuda"})
# Words a reasonable reader takes as opt-out wherever they appear.
STRONG_STOP: Final = frozenset(
    {"stop", "stopall", "unsubscribe", "optout", "arret", "arretez", "desabonner", "desinscrire"}
)
FILLER: Final = _words(
    "please pls plz now thanks thank you me it all svp merci sil vous plait por favor gracias "
    "ya de a"
)
PHRASES: Final = tuple(
    re.compile(p)
    for p in (
        r"\b(stop|quit|cease) (texting|messaging|sending|contacting|spamming|calling)\b",
        r"\b(do not|dont|don t|never) (text|message|contact|sms|send)\b",
        r"\b(remove|delete|take) me (from|off)\b",
        r"\b(unsubscribe|opt) me\b",
        r"\bno (more|further) (texts?|messages?|sms)\b",
        r"\bleave me alone\b",
        r"\b(ne|n) (plus|pas) (m )?(envoyer|ecrire|contacter|recevoir)\b",
        r"\b(arretez|cessez) (de|d) (m|me)\b",
        r"\bno (mas|quiero) (mensajes|sms|textos|recibir)\b",
        r"\b(dejen|deja|dejar) de (enviar|mandar|escribir)",
        r"\b(dar|darme|dame) de baja\b",
    )
)


@dataclass(frozen=True, slots=True)
class Classification:
    kind: Kind
    rule: str  # which layer matched: keyword, keyword_filler, word, phrase, none
    lang: str = "en"  # language of the matched word, for the confirmation text


_FRENCH: Final = _words("arret arrete arretez arrett desabonner desinscrire aide nonarret fin") | {
    "non arret",
    "arret tout",
}
_SPANISH: Final = frozenset({"parar", "pare", "baja", "alto", "cancelar", "detener", "ayuda"})


def normalize(text: str) -> str:
    """NFKC, case-folded, accents stripped, everything but letters and digits made a space."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+|_", " ", bare).split())


def classify(text: str, opt_out_type: str | None = None) -> Classification:
    """The request in one message body. `opt_out_type` is Twilio's `OptOutType` (STOP, START,
    HELP), set when Advanced Opt-Out recognised a keyword; a STOP there always counts."""
    norm = normalize(text)
    words = norm.split()
    significant = [w for w in words if w not in FILLER]
    joined = " ".join(significant)
    if norm in STOP_ALL_WORDS or "stopall" in words or _adjacent(words, "stop", "all"):
        return Classification("stop_all", "keyword", _lang(norm))
    if (opt_out_type or "").upper() == "STOP":
        return Classification("stop", "provider")
    if norm in STOP_WORDS:
        return Classification("stop", "keyword", _lang(norm))
    if significant and (joined in STOP_WORDS or all(w in STOP_WORDS for w in significant)):
        return Classification("stop", "keyword_filler", _lang(significant[0]))
    for word in words:
        if word in STRONG_STOP:
            return Classification("stop", "word", _lang(word))
    for pattern in PHRASES:
        if pattern.search(norm):
            return Classification("stop", "phrase", _phrase_lang(norm))
    if norm in START_WORDS or (opt_out_type or "").upper() == "START":
        return Classification("start", "keyword", _lang(norm))
    if norm in HELP_WORDS or (opt_out_type or "").upper() == "HELP":
        return Classification("help", "keyword", _lang(norm))
    return Classification("none", "none")


def _adjacent(words: list[str], first: str, second: str) -> bool:
    return any(a == first and b == second for a, b in itertools.pairwise(words))


def _lang(word: str) -> str:
    return "fr" if word in _FRENCH else "es" if word in _SPANISH else "en"


def _phrase_lang(norm: str) -> str:
    if re.search(r"\b(ne|n|arretez|cessez)\b", norm):
        return "fr"
    if re.search(r"\b(no|dejen|deja|dejar|dar|darme|dame)\b", norm) and not re.search(
        r"\bno (more|further)\b", norm
    ):
        return "es"
    return "en"
