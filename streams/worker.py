"""`consentgate worker`: run the gate until SIGTERM or SIGINT.

Start-up order matters: topics first (a co-partitioning error stops the worker before it joins the
group), then schemas (the codec needs their ids), then the faust worker, which recovers the consent
table from its changelog before any agent runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from streams import topics
from streams.admin import TopicLayoutError, ensure_topics
from streams.policy.jurisdictions import TableError, table_for
from streams.settings import Settings, SettingsError

log = logging.getLogger("consentgate.worker")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("worker", help="run the gate (settings from the environment)")
    parser.add_argument("--data-dir", type=Path, help="override CONSENTGATE_DATA_DIR")
    parser.add_argument("--web-port", type=int, help="override CONSENTGATE_WEB_PORT")
    parser.set_defaults(func=run)


def build(settings: Settings) -> Any:
    """Topics, schemas and the faust app, ready to run. Returns the GateApp."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from streams.app import create_app
    from streams.serdes import WireCodec

    layout = ensure_topics(settings)
    codec = WireCodec(
        SchemaRegistryClient({"url": settings.schema_registry_url}),
        topic_prefix=settings.topic_prefix,
    )
    codec.register_all()
    return create_app(
        settings,
        partitions=layout.recipient_partitions,
        partner_partitions=layout.partitions[topics.PARTNER.base],
        codec=codec,
    )


def use_event_loop(name: str) -> bool:
    """Install the event loop policy before anything makes a loop; False for an unknown name."""
    if name == "asyncio":
        return True
    if name != "uvloop":
        return False
    try:
        import uvloop
    except ImportError:
        log.warning("uvloop is not installed: the worker runs on asyncio's event loop")
        return True
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    log.info("event loop: uvloop %s", uvloop.__version__)
    return True


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"consentgate worker: bad setting: {exc}", file=sys.stderr)
        return 2
    if args.data_dir:
        settings = settings.replace(data_dir=args.data_dir)
    if args.web_port:
        settings = settings.replace(web_port=args.web_port)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if not use_event_loop(settings.event_loop):
        print(
            f"consentgate worker: CONSENTGATE_EVENT_LOOP={settings.event_loop!r}: "
            "expected uvloop or asyncio",
            file=sys.stderr,
        )
        return 2
    try:
        table_for(settings.policy)  # a broken override table stops the worker now, not per intent
        gate_app = build(settings)
    except (TopicLayoutError, TableError) as exc:
        print(f"consentgate worker: {exc}", file=sys.stderr)
        return 2
    from faust import Worker

    log.info(
        "consentgate worker: app %s, topics prefix %r, web http://%s:%d/metrics",
        settings.app_id,
        settings.topic_prefix,
        settings.web_bind,
        settings.web_port,
    )
    worker = Worker(gate_app.app, loglevel=settings.log_level, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0
