"""The connectors' aiohttp application: `/live`, `/metrics`, and the enabled connectors' routes.

aiohttp because faust already depends on it (no new framework, no second server process), its
`request.post()` parses both urlencoded and multipart forms (RFC 8058 allows both), and its test
client runs the real application in-process. A connector is enabled by its secret: unsubscribe
and consent confirmation by `CONSENTGATE_UNSUBSCRIBE_KEYS`, consent capture also by
`CONSENTGATE_CONSENT_API_KEYS`, SMS by `CONSENTGATE_TWILIO_AUTH_TOKEN`, SendGrid by
`CONSENTGATE_SENDGRID_PUBLIC_KEY`. Nothing is served without its check.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.http import consent, sendgrid, sms, unsubscribe
from connectors.http.context import CONTEXT, ConnectorContext, context_of

MAX_BODY_BYTES = 4 * 1024 * 1024  # a SendGrid batch stays well below this


async def live(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(context_of(request).metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def enabled_connectors(ctx: ConnectorContext) -> list[str]:
    enabled = []
    if ctx.unsubscribe_tokens is not None:
        enabled.append("unsubscribe")
    if ctx.confirm_tokens is not None:
        enabled.append("consent" if ctx.consent_api_keys else "consent-confirm")
    if ctx.twilio_auth_token:
        enabled.append("sms")
    if ctx.sendgrid_public_key:
        enabled.append("sendgrid")
    return enabled


def build_app(ctx: ConnectorContext) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[CONTEXT] = ctx
    app.router.add_get("/live", live)
    app.router.add_get("/metrics", metrics)
    enabled = enabled_connectors(ctx)
    if "unsubscribe" in enabled:
        unsubscribe.add_routes(app)
        consent.add_routes(app, capture_enabled=bool(ctx.consent_api_keys))
    if "sms" in enabled:
        sms.add_routes(app)
    if "sendgrid" in enabled:
        sendgrid.add_routes(app, ctx.sendgrid_public_key)

    async def close_publisher(app: web.Application) -> None:
        await ctx.publisher.close()

    app.on_cleanup.append(close_publisher)
    return app
