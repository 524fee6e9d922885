"""`consentgate bench`: the gate against a plain Kafka loop on one stack (`make bench`).

Parses the flags, builds the run's sizes and prints the report; the benchmark itself (its method is
in `streams.devtools.bench`'s docstring) loads only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench", help="benchmark the gate against a plain Kafka loop on the local stack"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: proves it works")
    parser.add_argument("--json", action="store_true", help="print only the JSON report")
    parser.add_argument("--recipients", type=int, help="recipients the consent state covers")
    parser.add_argument("--consents", type=int, help="consent and opt-out records to load")
    parser.add_argument("--intents", type=int, help="send intents for the throughput runs")
    parser.add_argument("--drain-seconds", type=float, help="longest the gate drains intents")
    parser.add_argument("--partitions", type=int, help="partitions of the recipient topics")
    parser.add_argument("--latency-seconds", type=float, help="length of the fixed-rate run")
    parser.add_argument(
        "--latency-load", type=float, default=0.6, help="fixed rate, share of the gate's maximum"
    )
    parser.add_argument(
        "--latency-rate", type=float, help="fixed rate in intents/s (instead of --latency-load)"
    )
    parser.add_argument("--optout-samples", type=int, help="opt-out-to-enforcement samples")
    parser.add_argument(
        "--scale-workers",
        type=int,
        default=0,
        help="also decide fresh intents with 1, then N workers in one group (step 8; 0: skip)",
    )
    parser.add_argument("--work-dir", type=Path, help="worker data and logs (default: a temp dir)")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and work dir")
    parser.add_argument("--kafka-version", help="label the broker version of an external stack")
    parser.set_defaults(func=run)


def progress(message: str) -> None:
    print(f"consentgate bench: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from streams.devtools.bench import Bench, Options, render_table, sizes_from
    from streams.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"consentgate bench: bad setting: {exc}", file=sys.stderr)
        return 2
    if args.partitions:
        settings = settings.replace(partitions=args.partitions)
    options = Options(
        mode="quick" if args.quick else "full",
        latency_load=args.latency_load,
        latency_rate=args.latency_rate,
        work_dir=args.work_dir,
        keep=args.keep,
        kafka_version=args.kafka_version,
        scale_workers=args.scale_workers,
    )
    try:
        report = Bench(settings, sizes_from(args), options, progress).run()
    except KeyboardInterrupt:
        print("consentgate bench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"consentgate bench: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report) if args.json else render_table(report), flush=True)
    return 0
