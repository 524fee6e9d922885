"""The `consentgate` command: a thin dispatcher. Each subcommand lives in its own module.

A command module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from streams import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "streams.localstack.command",
    "streams.replay",
    "streams.config_command",
    "streams.rules_command",
    "streams.explain_command",
    "streams.worker",
    "streams.produce_command",
    "streams.tail",
    "streams.demo",
    "streams.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consentgate", description="Compliance gate for outbound messages on Apache Kafka."
    )
    parser.add_argument("--version", action="version", version=f"consentgate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
