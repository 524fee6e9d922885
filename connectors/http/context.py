"""What every connector handler shares: its configuration, publisher, metrics and clock."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from connectors.http import pages
from connectors.http.metrics import ConnectorMetrics
from connectors.http.publish import Publisher, PublishFailed
from connectors.http.tokens import LinkTokens, parse_keys
from streams.policy.addresses import InvalidAddress, normalize_address
from streams.settings import Settings

log = logging.getLogger("consentgate.connectors")

UNSUBSCRIBE_PURPOSE = "unsubscribe"
CONFIRM_PURPOSE = "consent-confirm"


@dataclass
class ConnectorContext:
    publisher: Publisher
    metrics: ConnectorMetrics
    first_party: str = "company"
    jurisdiction: str = "US"
    public_url: str = ""
    unsubscribe_tokens: LinkTokens | None = None
    confirm_tokens: LinkTokens | None = None
    consent_api_keys: frozenset[str] = frozenset()
    twilio_auth_token: str = ""
    sms_senders: Mapping[str, str] = field(default_factory=dict)
    sms_help_text: str = ""
    sendgrid_public_key: str = ""
    clock: Callable[[], float] = time.time

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        publisher: Publisher,
        metrics: ConnectorMetrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> ConnectorContext:
        """Raises ValueError for a malformed key list or sender map (a refusal to start)."""
        keys = parse_keys(settings.unsubscribe_keys)
        unsubscribe = confirm = None
        if keys:
            unsubscribe = LinkTokens(
                keys, UNSUBSCRIBE_PURPOSE, settings.unsubscribe_max_age.total_seconds(), clock=clock
            )
            confirm = LinkTokens(
                keys, CONFIRM_PURPOSE, settings.confirm_max_age.total_seconds(), clock=clock
            )
        return cls(
            publisher=publisher,
            metrics=metrics,
            first_party=settings.policy.first_party,
            jurisdiction=settings.connector_jurisdiction.upper(),
            public_url=settings.public_url.rstrip("/"),
            unsubscribe_tokens=unsubscribe,
            confirm_tokens=confirm,
            consent_api_keys=frozenset(
                k.strip() for k in settings.consent_api_keys.split(",") if k.strip()
            ),
            twilio_auth_token=settings.twilio_auth_token,
            sms_senders=parse_sms_senders(settings.sms_senders),
            sms_help_text=settings.sms_help_text,
            sendgrid_public_key=settings.sendgrid_public_key.strip(),
            clock=clock,
        )

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def base_url(self, request: web.Request) -> str:
        """Where callers reach us: the configured public URL, else the URL of this request."""
        return self.public_url or f"{request.scheme}://{request.host}"

    async def publish(self, connector: str, records: list[dict[str, Any]]) -> bool:
        """Publish and wait for the acknowledgement; False (counted, logged) when refused."""
        started = time.perf_counter()
        try:
            await self.publisher.publish(records)
        except PublishFailed:
            self.metrics.count(connector, "publish_failed")
            return False
        self.metrics.publish_seconds.labels(connector).observe(time.perf_counter() - started)
        for record in records:
            self.metrics.records.labels(connector, record["type"]).inc()
            log.info("%s: %s %s acknowledged", connector, record["type"], record["id"])
            log.debug(
                "%s: %s %s is about %s",
                connector,
                record["type"],
                record["id"],
                record.get("address"),
            )
        return True


CONTEXT = web.AppKey("connector_context", ConnectorContext)


def context_of(request: web.Request) -> ConnectorContext:
    return request.app[CONTEXT]


def parse_sms_senders(raw: str) -> dict[str, str]:
    """`+14155550100=company,+1...=acme` → {E.164 number: party}."""
    senders: dict[str, str] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        number, sep, party = part.partition("=")
        if not sep or not party.strip():
            raise ValueError("CONSENTGATE_SMS_SENDERS entries are +number=party")
        try:
            senders[normalize_address("sms", number.strip(), None)] = party.strip()
        except InvalidAddress as exc:
            raise ValueError(f"CONSENTGATE_SMS_SENDERS: {exc}") from None
    return senders


def html_page(
    page: str,
    lang: str,
    *,
    status: int = 200,
    form_field: str | None = None,
    retry_after: int | None = None,
    **values: str,
) -> web.Response:
    headers = dict(pages.page_headers)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return web.Response(
        text=pages.render(page, lang, form_field=form_field, **values),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=headers,
    )
