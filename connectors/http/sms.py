"""Inbound SMS, Twilio-compatible: keywords become opt-outs and grants.

The `X-Twilio-Signature` is checked with the `twilio` package's `RequestValidator` over every
parameter received (Twilio adds parameters without notice), against the URL Twilio called: the
configured public URL plus this request's path and query when set (a TLS-terminating proxy changes
what the app sees), else the request's own URL. A bad or missing signature gets 403, nothing
recorded.

STOP-family → opt-out from the party that owns the receiving number (`CONSENTGATE_SMS_SENDERS`,
else the first party); STOPALL → from every party (party null). Each is followed by an
`optout_confirmation` intent through the gate: the delivery side sends it only if the gate allows
(once, within the window). START/UNSTOP → a grant with evidence source `sms_keyword`. HELP → the
configured help text as TwiML. Record ids are `sms-<MessageSid>` (`-confirm` for the intent), so a
redelivered webhook changes nothing.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import phonenumbers
from aiohttp import web
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from connectors.http.context import ConnectorContext, context_of
from connectors.http.keywords import classify
from streams.policy.addresses import InvalidAddress, normalize_address

CONNECTOR = "sms"
CONFIRMATION_TEXT = {
    "en": "You are unsubscribed and will receive no more messages from this number.",
    "fr": "Vous êtes désinscrit et ne recevrez plus de messages de ce numéro.",
    "es": "Se ha dado de baja y no recibirá más mensajes de este número.",
}


def twiml(message: str | None = None) -> web.Response:
    body = f"<Message>{escape(message)}</Message>" if message else ""
    return web.Response(
        text=f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        content_type="application/xml",
    )


def signed_url(ctx: ConnectorContext, request: web.Request) -> str:
    if ctx.public_url:
        return ctx.public_url + request.rel_url.path_qs
    return str(request.url)


def jurisdiction_of(ctx: ConnectorContext, number: str, from_country: str | None) -> str:
    """Twilio's `FromCountry`, else the number's country, else the configured default."""
    if from_country and len(from_country) == 2 and from_country.isalpha():
        return from_country.upper()
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        region = None
    return region if region and region != "ZZ" else ctx.jurisdiction


async def inbound(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    form = await request.post()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    validator = RequestValidator(ctx.twilio_auth_token)
    if not signature or not validator.validate(
        signed_url(ctx, request), form, signature, algorithm
    ):
        ctx.metrics.count(CONNECTOR, "bad_signature")
        return web.Response(status=403, text="bad signature\n")
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
    sender_number = str(form.get("From") or "")
    if not sid or not sender_number:
        ctx.metrics.count(CONNECTOR, "bad_request")
        return web.Response(status=400, text="MessageSid and From are required\n")
    to = str(form.get("To") or "")
    asked = classify(str(form.get("Body") or ""), _str_or_none(form.get("OptOutType")))
    party = _party_of(ctx, to)
    jurisdiction = jurisdiction_of(ctx, sender_number, _str_or_none(form.get("FromCountry")))
    base: dict[str, Any] = {
        "at": ctx.now(),
        "channel": "sms",
        "address": sender_number,
        "jurisdiction": jurisdiction,
    }
    if asked.kind == "help":
        ctx.metrics.count(CONNECTOR, "help")
        return twiml(ctx.sms_help_text)
    if asked.kind == "none":
        ctx.metrics.count(CONNECTOR, "ignored")
        return twiml()
    if asked.kind == "start":
        records = [_grant(base, sid, party, to, asked.rule)]
    else:
        optout = {
            **base,
            "type": "optout",
            "id": f"sms-{sid}",
            "method": "sms_keyword",
            "party": None if asked.kind == "stop_all" else party,
        }
        confirmation = {
            **base,
            "type": "intent",
            "id": f"sms-{sid}-confirm",
            "sender": party,
            "category": "optout_confirmation",
            "has_opt_out": False,
            "body": CONFIRMATION_TEXT.get(asked.lang, CONFIRMATION_TEXT["en"]),
        }
        records = [optout, confirmation]
    if not await ctx.publish(CONNECTOR, records):
        return web.Response(status=503, text="try again\n", headers={"Retry-After": "30"})
    ctx.metrics.count(CONNECTOR, "recorded")
    return twiml()


def _grant(base: dict[str, Any], sid: str, party: str, to: str, rule: str) -> dict[str, Any]:
    return {
        **base,
        "type": "consent",
        "id": f"sms-{sid}",
        "party": party,
        "purpose": "marketing",
        "action": "grant",
        "evidence": {
            "source": "sms_keyword",
            "keyword_rule": rule,
            "message_sid": sid,
            "to": to,
        },
    }


def _party_of(ctx: ConnectorContext, to: str) -> str:
    try:
        return ctx.sms_senders.get(normalize_address("sms", to, None), ctx.first_party)
    except InvalidAddress:
        return ctx.first_party


def _str_or_none(value: Any) -> str | None:
    return str(value) if value else None


def add_routes(app: web.Application) -> None:
    app.router.add_post("/sms", inbound)
