"""`consentgate connectors`: the HTTP connectors (unsubscribe, SMS, SendGrid, consent capture)."""

from __future__ import annotations

import argparse
import logging
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "connectors",
        help="run the HTTP connectors: unsubscribe links, SMS keywords, SendGrid events, consent",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    from connectors.http.app import build_app, enabled_connectors
    from connectors.http.context import ConnectorContext
    from connectors.http.metrics import ConnectorMetrics
    from connectors.http.publish import KafkaPublisher
    from streams.serdes import codec_for
    from streams.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"consentgate: bad setting: {exc}")
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # the registry answers before the first request: the schemas are there when a record comes
    publisher = KafkaPublisher.for_settings(settings, codec_for(settings, register=True))
    try:
        ctx = ConnectorContext.from_settings(settings, publisher, ConnectorMetrics())
    except ValueError as exc:
        print(f"consentgate: bad connector setting: {exc}")
        return 2
    enabled = enabled_connectors(ctx)
    print(
        f"consentgate connectors on http://{settings.connector_bind}:{settings.connector_port}: "
        f"{', '.join(enabled) or 'none enabled (set their keys)'}",
        flush=True,
    )
    # no access log: a request line carries link tokens, and our own log lines say what happened
    web.run_app(
        build_app(ctx),
        host=settings.connector_bind,
        port=settings.connector_port,
        access_log=None,
        print=None,
    )
    return 0
