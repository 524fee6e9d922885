"""Email unsubscribe: RFC 8058 one-click POST and a page for people (RFC 2369 link).

`/u/{token}`: GET and HEAD only show a page with a real form button, because link scanners fetch
every link in a mail; a POST records the opt-out. A POST whose body is `List-Unsubscribe=One-Click`
(form-urlencoded or multipart, RFC 8058 §3.2) is a mail client's one-click: method `one_click`,
200, no redirect, no cookie. The page's own form posts `confirm=yes`: method `unsubscribe_link`,
answered with a confirmation page in the recipient's language. A POST with neither body is taken
as a one-click from a client that lost the body (the token alone is the credential, and scanners do
not POST). A forged or expired token shows a clear page and records nothing. The record id hashes
token and method, so a retried or repeated POST yields the same record.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from connectors.http import pages
from connectors.http.context import ConnectorContext, context_of, html_page
from connectors.http.tokens import LinkClaims, LinkTokens, TokenError

CONNECTOR = "unsubscribe"
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


def unsubscribe_url(tokens: LinkTokens, base_url: str, claims: LinkClaims) -> str:
    return f"{base_url.rstrip('/')}/u/{tokens.issue(claims)}"


def list_unsubscribe_headers(
    tokens: LinkTokens, base_url: str, claims: LinkClaims, *, mailto: str | None = None
) -> dict[str, str]:
    """`List-Unsubscribe` (the https link, then an optional mailto, RFC 2369) and
    `List-Unsubscribe-Post` (RFC 8058). Set them on an `EmailMessage` whose policy does not fold
    the URL into encoded words (`email.policy.SMTP.clone(max_line_length=998)`), and have DKIM
    sign both (`h=`), or mail clients will not offer one-click."""
    targets = [f"<{unsubscribe_url(tokens, base_url, claims)}>"]
    if mailto:
        targets.append(f"<mailto:{mailto}>")
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": ONE_CLICK_BODY}


def record_id(token: str, method: str) -> str:
    return "u-" + hashlib.sha256(f"{token}\n{method}".encode()).hexdigest()[:32]


def optout_record(
    ctx: ConnectorContext, token: str, claims: LinkClaims, method: str
) -> dict[str, Any]:
    return {
        "type": "optout",
        "id": record_id(token, method),
        "at": ctx.now(),
        "channel": claims.channel,
        "address": claims.address,
        "party": claims.party,
        "method": method,
        "jurisdiction": claims.jurisdiction,
    }


async def show(request: web.Request) -> web.StreamResponse:
    """GET and HEAD: the page with the button; never a change of state."""
    ctx = context_of(request)
    assert ctx.unsubscribe_tokens is not None
    try:
        claims = ctx.unsubscribe_tokens.verify(request.match_info["token"])
    except TokenError as exc:
        return _refused(ctx, request, exc, as_page=True)
    ctx.metrics.count(CONNECTOR, "shown")
    return html_page(
        "unsubscribe",
        _language(request, claims.lang),
        form_field="confirm",
        sender=claims.party or "",
        address=pages.mask_address(claims.address),
    )


async def act(request: web.Request) -> web.StreamResponse:
    """POST: one-click or the page's button; recorded once the broker acknowledged it."""
    ctx = context_of(request)
    assert ctx.unsubscribe_tokens is not None
    token = request.match_info["token"]
    form = await request.post()
    from_page = "confirm" in form and form.get("List-Unsubscribe") != "One-Click"
    try:
        claims = ctx.unsubscribe_tokens.verify(token)
    except TokenError as exc:
        return _refused(ctx, request, exc, as_page=from_page)
    method = "unsubscribe_link" if from_page else "one_click"
    lang = _language(request, claims.lang)
    if not await ctx.publish(CONNECTOR, [optout_record(ctx, token, claims, method)]):
        if from_page:
            return html_page("unavailable", lang, status=503, retry_after=30)
        return web.Response(status=503, text="try again\n", headers={"Retry-After": "30"})
    ctx.metrics.count(CONNECTOR, "recorded")
    if not from_page:
        return web.Response(
            status=200, text="unsubscribed\n", headers={"Cache-Control": "no-store"}
        )
    return html_page(
        "unsubscribed",
        lang,
        sender=claims.party or "",
        address=pages.mask_address(claims.address),
    )


def _refused(
    ctx: ConnectorContext, request: web.Request, exc: TokenError, *, as_page: bool
) -> web.StreamResponse:
    expired = exc.reason == "expired"
    ctx.metrics.count(CONNECTOR, "expired_token" if expired else "invalid_token")
    status = 410 if expired else 400
    if not as_page:
        return web.Response(status=status, text=f"{exc.reason} link; nothing changed\n")
    return html_page("expired" if expired else "invalid", _language(request, None), status=status)


def _language(request: web.Request, preferred: str | None) -> str:
    return pages.choose_language(request.headers.get("Accept-Language"), preferred)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/u/{token}", show)  # HEAD too, same handler, body dropped
    app.router.add_post("/u/{token}", act)
