"""`consentgate tail verdicts|violations|dead-letters`: read the gate's outputs, readably.

A group-less reader (manual assignment, nothing committed), so tailing never disturbs a consumer
group of the delivery side or the compliance team.
"""

from __future__ import annotations

import argparse
import base64
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from streams import topics
from streams.settings import Settings

TAILABLE = {spec.base: spec for spec in topics.OUTPUTS}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("tail", help="print verdicts, violations or dead letters")
    parser.add_argument("topic", choices=sorted(TAILABLE))
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    parser.add_argument("--from-end", action="store_true", help="only records from now on")
    parser.add_argument("--max", type=int, default=0, help="stop after this many records")
    parser.add_argument(
        "--idle", type=float, default=0.0, help="stop after this many seconds without a record"
    )
    parser.set_defaults(func=run)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def readable(base: str, record: dict[str, Any]) -> str:
    if base == topics.VERDICTS.base:
        others = [r for r in record.get("reasons") or [] if r != record.get("reason")]
        extra = f" (also {', '.join(others)})" if others else ""
        return f"{record['id']:<24} {record['decision']:<5} {record['reason']}{extra}"
    if base == topics.VIOLATIONS.base:
        return (
            f"{record['intent_id']:<24} {record['rule']:<32} {record['severity']:<8} "
            f"sender={record['sender']} channel={record['channel']}"
        )
    where = record.get("source_topic") or "?"
    return (
        f"{where}[{record.get('source_partition')}]@{record.get('source_offset')} "
        f"{record.get('error_class')}: {record.get('error')}"
    )


def follow(
    settings: Settings,
    spec: topics.TopicSpec,
    *,
    from_end: bool,
    idle_s: float,
    stop: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """Records of `spec` as they come; ends after `idle_s` without one (0: never), or within a
    poll of `stop` being set (the consumer is closed before it returns: a caller that stops the
    broker next gets no reconnect noise from it)."""
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

    from streams.kafka_config import client_config
    from streams.serdes import codec_for

    codec = codec_for(settings)
    name = spec.name(settings.topic_prefix)
    consumer = Consumer(
        client_config(
            settings,
            **{"group.id": f"consentgate-tail-{uuid.uuid4()}", "enable.auto.commit": False},
        )
    )
    try:
        metadata = consumer.list_topics(name, timeout=10)
        partitions = metadata.topics[name].partitions
        start = OFFSET_END if from_end else OFFSET_BEGINNING
        consumer.assign([TopicPartition(name, p, start) for p in partitions])
        last = time.monotonic()
        while stop is None or not stop.is_set():
            message = consumer.poll(0.2)
            if message is None or message.error():
                if idle_s and time.monotonic() - last > idle_s:
                    return
                continue
            last = time.monotonic()
            yield codec.decode(spec, message.value())
    finally:
        consumer.close()


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    spec = TAILABLE[args.topic]
    shown = 0
    try:
        for record in follow(settings, spec, from_end=args.from_end, idle_s=args.idle):
            if args.json:
                sys.stdout.write(orjson.dumps(_jsonable(record)).decode() + "\n")
            else:
                sys.stdout.write(readable(spec.base, record) + "\n")
            sys.stdout.flush()
            shown += 1
            if args.max and shown >= args.max:
                break
    except KeyboardInterrupt:
        pass
    return 0
