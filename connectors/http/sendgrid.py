"""SendGrid Event Webhook: complaints and unsubscribes become opt-outs.

The ECDSA signature (`X-Twilio-Email-Event-Webhook-Signature` over timestamp + raw body) is
checked with the `sendgrid` package's `EventWebhook` helper; a bad or missing one gets 403.
`spamreport` → opt-out from every party on email (method `complaint`); `unsubscribe` and
`group_unsubscribe` → opt-out (method `unsubscribe_link`) from the party named by the
`consentgate_sender` custom arg, else the first party. Bounces are counted, not consent events.
Ids are `sg-<sg_event_id>`: SendGrid retries a batch until it gets a 2xx, and a retried batch
changes nothing. The batch is answered 200 only once every opt-out in it is acknowledged.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from connectors.http.context import ConnectorContext, context_of, log

CONNECTOR = "sendgrid"
OPTOUT_EVENTS = {
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe_link",
    "group_unsubscribe": "unsubscribe_link",
}
BOUNCE_EVENTS = frozenset({"bounce", "blocked"})


def verifier(public_key: str) -> EventWebhook:
    """Raises ValueError for a key that is no EC public key (a refusal to start)."""
    return EventWebhook(public_key)


async def events(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    body = await request.text()
    signature = request.headers.get(EventWebhookHeader.SIGNATURE, "")
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP, "")
    hook = request.app[VERIFIER]
    if not (signature and timestamp and _verified(hook, body, signature, timestamp)):
        ctx.metrics.count(CONNECTOR, "bad_signature")
        return web.Response(status=403, text="bad signature\n")
    try:
        batch = json.loads(body)
    except ValueError:
        batch = None
    if not isinstance(batch, list):
        ctx.metrics.count(CONNECTOR, "bad_request")
        return web.Response(status=400, text="expected a JSON array of events\n")
    records: list[dict[str, Any]] = []
    for event in batch:
        outcome, record = _record_of(ctx, event)
        if record is None:
            ctx.metrics.count(CONNECTOR, outcome)
        else:
            records.append(record)
    if not await ctx.publish(CONNECTOR, records):
        return web.Response(status=503, text="try again\n", headers={"Retry-After": "30"})
    if records:
        ctx.metrics.count(CONNECTOR, "recorded", len(records))
    return web.Response(status=200, text="ok\n")


def _verified(hook: EventWebhook, body: str, signature: str, timestamp: str) -> bool:
    try:
        return bool(hook.verify_signature(body, signature, timestamp))
    except (ValueError, binascii.Error, TypeError):
        return False


def _record_of(ctx: ConnectorContext, event: Any) -> tuple[str, dict[str, Any] | None]:
    """(outcome, opt-out record or None) for one event of the batch."""
    if not isinstance(event, dict):
        return "bad_request", None
    kind = event.get("event")
    if kind in BOUNCE_EVENTS:
        return "bounce", None
    if kind not in OPTOUT_EVENTS:
        return "ignored", None
    address = event.get("email")
    if not isinstance(address, str) or not address:
        log.warning("sendgrid: %s event without an email, skipped", kind)
        return "bad_request", None
    sender = event.get("consentgate_sender")
    jurisdiction = event.get("consentgate_jurisdiction")
    return "recorded", {
        "type": "optout",
        "id": f"sg-{_event_id(event)}",
        "at": _at(ctx, event.get("timestamp")),
        "channel": "email",
        "address": address,
        "party": None if kind == "spamreport" else str(sender or ctx.first_party),
        "method": OPTOUT_EVENTS[kind],
        "jurisdiction": str(jurisdiction or ctx.jurisdiction).upper(),
    }


def _event_id(event: dict[str, Any]) -> str:
    given = event.get("sg_event_id")
    if isinstance(given, str) and given:
        return given
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"))
    return "h" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _at(ctx: ConnectorContext, timestamp: Any) -> datetime:
    if (
        isinstance(timestamp, int | float)
        and not isinstance(timestamp, bool)
        and 0 < timestamp < 1e11
    ):
        return datetime.fromtimestamp(timestamp, UTC)
    return ctx.now()


VERIFIER = web.AppKey("sendgrid_verifier", EventWebhook)


def add_routes(app: web.Application, public_key: str) -> None:
    app[VERIFIER] = verifier(public_key)
    app.router.add_post("/sendgrid/events", events)
