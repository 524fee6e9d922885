"""The `consentgate` command: a thin dispatcher over one module per command, `cli/<name>.py`.

A command module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
Command modules import what they run lazily, so `consentgate --help` stays quick and a command's
dependencies (the embedded stack, the benchmark) load only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from streams import __version__

COMMAND_MODULES: tuple[str, ...] = tuple(
    f"streams.cli.{name}"
    for name in (
        "worker",
        "produce",
        "tail",
        "replay",
        "explain",
        "rules",
        "config",
        "stack",
        "demo",
        "bench",
    )
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
