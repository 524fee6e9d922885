"""The pages people see: one HTML layout here, the words in `<lang>.json` (en, fr, de, es).

The language is the link's own (a sender that knows it puts it in the token), else the best of
Accept-Language, else English. Every value is HTML-escaped; pages load nothing from elsewhere,
so the strict Content-Security-Policy in `page_headers` holds.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from typing import Final

LANGUAGES: Final = ("en", "fr", "de", "es")
DEFAULT_LANGUAGE: Final = "en"

# No cookies, no caching, no referrer (the token is in the URL), nothing from elsewhere.
page_headers: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

_LAYOUT: Final = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem;
       line-height: 1.5; color: #1b1b1b; }}
button {{ font-size: 1.1rem; padding: .6rem 1.4rem; border-radius: .4rem; border: 1px solid #444;
         background: #1b1b1b; color: #fff; cursor: pointer; }}
</style>
</head>
<body>
<main id="{page}">
<h1>{title}</h1>
<p id="message">{text}</p>
{form}</main>
</body>
</html>
"""

_FORM: Final = """<form method="post">
<input type="hidden" name="{field}" value="yes">
<button type="submit" id="{page}-button">{button}</button>
</form>
"""


@cache
def catalog(lang: str) -> dict[str, str]:
    text = resources.files(__name__).joinpath(f"{lang}.json").read_text(encoding="utf-8")
    loaded: dict[str, str] = json.loads(text)
    return loaded


def choose_language(accept_language: str | None, preferred: str | None = None) -> str:
    """`preferred` when supported, else the highest-q supported language of Accept-Language
    (`fr-CA` counts as `fr`), else English."""
    if preferred and preferred.lower()[:2] in LANGUAGES:
        return preferred.lower()[:2]
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for item in (accept_language or "").split(","):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        base = tag.strip().lower()[:2]
        if base in LANGUAGES and q > best_q:  # strictly: at equal q the earlier one stays
            best, best_q = base, q
    return best


def render(
    page: str,
    lang: str,
    *,
    form_field: str | None = None,
    **values: str,
) -> str:
    """Page `page` (`unsubscribe`, `unsubscribed`, `invalid`, `expired`, `unavailable`,
    `confirm`, `confirmed`) in `lang`, with `{sender}`/`{address}` filled in, escaped."""
    words = catalog(lang)
    safe = {name: html.escape(value) for name, value in values.items()}
    title = html.escape(words[f"{page}_title"])
    text = html.escape(words[f"{page}_text"]).format(**safe)
    form = ""
    if form_field:
        form = _FORM.format(
            field=form_field, page=page, button=html.escape(words[f"{page}_button"])
        )
    return _LAYOUT.format(lang=lang, title=title, text=text, page=page, form=form)


def mask_address(address: str) -> str:
    """`a***@example.com`, `+1415***0124`: enough for a person to recognise their own address,
    too little for a page that a link scanner fetched to leak it."""
    local, at, domain = address.partition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    return f"{address[:5]}***{address[-4:]}" if len(address) > 9 else "***"
