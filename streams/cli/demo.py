"""`consentgate demo`: the whole pipeline on the local stack, with demo traffic (`make demo`)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the gate on the local stack with demo traffic")
    parser.add_argument("--recipients", type=int, default=5_000)
    parser.add_argument("--rate", type=int, default=2_000, help="intents per second to send")
    parser.add_argument("--duration", type=float, default=0, help="seconds; 0 runs until Ctrl-C")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streams.devtools.demo import run as run_demo  # development tooling, loaded on use

    return run_demo(args)
