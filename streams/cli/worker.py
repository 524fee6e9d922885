"""`consentgate worker`: run the gate until SIGTERM or SIGINT (settings from the environment)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from streams.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("worker", help="run the gate (settings from the environment)")
    parser.add_argument("--data-dir", type=Path, help="override CONSENTGATE_DATA_DIR")
    parser.add_argument("--web-port", type=int, help="override CONSENTGATE_WEB_PORT")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streams.policy.jurisdictions import TableError
    from streams.runtime.admin import TopicLayoutError
    from streams.runtime.store_check import StoreCheckError
    from streams.runtime.worker import serve

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
    try:
        serve(settings)
    except (TopicLayoutError, TableError, StoreCheckError) as exc:
        print(f"consentgate worker: {exc}", file=sys.stderr)
        return 2
    return 0
