"""The `consentgate` command: a thin dispatcher over one module per command, `cli/<name>.py`.

A command module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
Command modules import what they run lazily, so `consentgate --help` stays quick and a command's
dependencies (the embedded stack, the benchmark) load only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
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
        "import_",  # the `import` command (`import` is a keyword)
        "connectors",
        "audit",  # `audit` and `violations` (issue 15)
        "erase",  # issue 15 §6
        "dead_letters",  # the `dead-letters` command
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
    try:
        result: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left (`| head -1`): what it read stands, end quietly
        # point stdout at devnull, so the interpreter's own flush at exit fails no more (Python
        # docs, "Note on SIGPIPE")
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result
