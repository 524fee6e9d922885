"""Consent capture with double opt-in.

`POST /consent` is called by the site's backend (bearer key, `CONSENTGATE_CONSENT_API_KEYS`) with
the web form's grant and its evidence: form version, the person's IP and user agent, and the notice
text shown (or its SHA-256). It records the `grant` and answers with a signed confirmation link,
which the backend mails to the address. That link's page (GET shows a button, never a change; its
POST confirms) records the `confirm`. The link is the proof that the mailbox owner agreed, so it
must reach nobody but them: POST /consent is never for browsers, and it is off without a key.

Ids: a grant's is derived from the caller's `Idempotency-Key` header (or `request_id` field) and
the address, so a retried call records one grant; without one every call is a new grant. The
confirm's id is `confirm-<grant id>`: clicking twice confirms once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from typing import Any

from aiohttp import web

from connectors.http import pages
from connectors.http.context import ConnectorContext, context_of, html_page
from connectors.http.tokens import LinkClaims, TokenError
from streams.policy.addresses import InvalidAddress, normalize_address
from streams.policy.config import CHANNEL_NAMES, canonical_party

CONNECTOR = "consent"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_FIELD = 512


class _BadRequest(ValueError):
    pass


async def capture(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    if not _authorized(ctx, request.headers.get("Authorization", "")):
        ctx.metrics.count(CONNECTOR, "unauthorized")
        return web.json_response({"error": "unauthorized"}, status=401)
    try:
        fields = await _fields(request)
        grant = _grant(ctx, request, fields)
    except _BadRequest as exc:
        ctx.metrics.count(CONNECTOR, "bad_request")
        return web.json_response({"error": str(exc)}, status=400)
    assert ctx.confirm_tokens is not None
    claims = LinkClaims(
        address=grant["address"],
        channel=grant["channel"],
        party=grant["party"],
        jurisdiction=grant["jurisdiction"],
        lang=fields.get("lang") or None,
        extra={"grant": grant["id"]},
    )
    if not await ctx.publish(CONNECTOR, [grant]):
        return web.json_response({"error": "try again"}, status=503, headers={"Retry-After": "30"})
    ctx.metrics.count(CONNECTOR, "recorded")
    url = f"{ctx.base_url(request)}/consent/confirm/{ctx.confirm_tokens.issue(claims)}"
    return web.json_response({"id": grant["id"], "confirm_url": url}, status=201)


async def show_confirm(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    claims = _verify(ctx, request)
    if isinstance(claims, web.StreamResponse):
        return claims
    ctx.metrics.count(CONNECTOR, "shown")
    return html_page(
        "confirm",
        pages.choose_language(request.headers.get("Accept-Language"), claims.lang),
        form_field="confirm",
        sender=claims.party or "",
        address=pages.mask_address(claims.address),
    )


async def confirm(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    claims = _verify(ctx, request)
    if isinstance(claims, web.StreamResponse):
        return claims
    lang = pages.choose_language(request.headers.get("Accept-Language"), claims.lang)
    grant_id = (claims.extra or {}).get("grant", "")
    record = {
        "type": "consent",
        "id": f"confirm-{grant_id}",
        "at": ctx.now(),
        "channel": claims.channel,
        "address": claims.address,
        "party": claims.party,
        "purpose": "marketing",
        "action": "confirm",
        "jurisdiction": claims.jurisdiction,
        "evidence": {
            "source": "double_opt_in_link",
            "grant_id": grant_id,
            "ip": request.remote or "",
            "user_agent": request.headers.get("User-Agent", "")[:MAX_FIELD],
        },
    }
    if not await ctx.publish(CONNECTOR, [record]):
        return html_page("unavailable", lang, status=503, retry_after=30)
    ctx.metrics.count(CONNECTOR, "recorded")
    return html_page(
        "confirmed", lang, sender=claims.party or "", address=pages.mask_address(claims.address)
    )


def _verify(ctx: ConnectorContext, request: web.Request) -> LinkClaims | web.StreamResponse:
    assert ctx.confirm_tokens is not None
    try:
        claims = ctx.confirm_tokens.verify(request.match_info["token"])
    except TokenError as exc:
        expired = exc.reason == "expired"
        ctx.metrics.count(CONNECTOR, "expired_token" if expired else "invalid_token")
        lang = pages.choose_language(request.headers.get("Accept-Language"))
        return html_page("expired" if expired else "invalid", lang, status=410 if expired else 400)
    if not (claims.extra or {}).get("grant"):
        ctx.metrics.count(CONNECTOR, "invalid_token")
        return html_page("invalid", "en", status=400)
    return claims


def _authorized(ctx: ConnectorContext, header: str) -> bool:
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    # compare with every key, so the time taken says nothing about which one nearly matched
    matches = [hmac.compare_digest(given.encode(), key.encode()) for key in ctx.consent_api_keys]
    return any(matches)


async def _fields(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            raw: Any = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise _BadRequest("body is not JSON") from None
        if not isinstance(raw, dict):
            raise _BadRequest("body is not a JSON object")
    else:
        raw = dict(await request.post())
    fields: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value)
            if len(text) > (64 * 1024 if name == "notice_text" else MAX_FIELD):
                raise _BadRequest(f"{name} is too long")
            fields[str(name)] = text
    return fields


def _grant(ctx: ConnectorContext, request: web.Request, fields: dict[str, str]) -> dict[str, Any]:
    channel = fields.get("channel", "email").strip().lower()
    if channel not in CHANNEL_NAMES:
        raise _BadRequest(f"unknown channel {channel[:20]!r}")
    jurisdiction = fields.get("jurisdiction", ctx.jurisdiction).strip().upper()
    address = fields.get("address") or fields.get("email") or ""
    try:
        normalized = normalize_address(channel, address, jurisdiction)
        party = canonical_party(fields.get("party") or ctx.first_party)
    except (InvalidAddress, ValueError) as exc:
        raise _BadRequest(str(exc)) from None
    form_version = fields.get("form_version", "").strip()
    if not form_version:
        raise _BadRequest("form_version is required")
    notice = fields.get("notice_sha256", "").strip().lower()
    if "notice_text" in fields:
        notice = hashlib.sha256(fields["notice_text"].encode()).hexdigest()
    if not _SHA256.match(notice):
        raise _BadRequest("notice_text or notice_sha256 (hex) is required")
    key = request.headers.get("Idempotency-Key") or fields.get("request_id")
    if key:
        digest = hashlib.sha256(json.dumps([key, channel, normalized]).encode()).hexdigest()
        grant_id = f"consent-{digest[:32]}"
    else:
        grant_id = f"consent-{uuid.uuid4().hex}"
    return {
        "type": "consent",
        "id": grant_id,
        "at": ctx.now(),
        "channel": channel,
        "address": normalized,
        "party": party,
        "purpose": "marketing",
        "action": "grant",
        "jurisdiction": jurisdiction,
        "evidence": {
            "source": "web_form",
            "form_version": form_version,
            "ip": fields.get("ip") or request.remote or "",
            "user_agent": fields.get("user_agent") or request.headers.get("User-Agent", ""),
            "notice_sha256": notice,
            "double_opt_in": "link_sent",
        },
    }


def add_routes(app: web.Application, *, capture_enabled: bool) -> None:
    app.router.add_get("/consent/confirm/{token}", show_confirm)
    app.router.add_post("/consent/confirm/{token}", confirm)
    if capture_enabled:
        app.router.add_post("/consent", capture)
