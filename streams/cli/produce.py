"""`consentgate produce FILE.jsonl`: publish a scenario file in order, waiting for each ack.

Waiting for every acknowledgement before the next record is what makes a scenario file an honest
test of read-your-opt-outs: an intent is only produced once the records before it are acknowledged.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from streams.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("produce", help="publish a scenario file (JSON lines) to Kafka")
    parser.add_argument("file", help="scenario events file, or - for standard input")
    parser.add_argument(
        "--no-wait", action="store_true", help="do not wait for each ack (faster, no ordering)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from connectors.producer import GateProducer, PublishError
    from streams.runtime.admin import ensure_topics
    from streams.serdes import codec_for

    settings = Settings.from_env()
    try:
        stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        print(f"consentgate produce: cannot open {args.file}: {exc}", file=sys.stderr)
        return 2
    ensure_topics(settings)
    codec = codec_for(settings, register=True)
    producer = GateProducer.for_settings(settings, codec)
    sent = failed = 0
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
                if not isinstance(record, dict):
                    raise PublishError("not a JSON object")
                producer.publish(record, wait=not args.no_wait)
                sent += 1
            except (orjson.JSONDecodeError, PublishError) as exc:
                failed += 1
                print(f"line {number}: {exc}", file=sys.stderr)
    producer.flush()
    print(f"published {sent} records, {failed} lines not published", file=sys.stderr)
    return 0
