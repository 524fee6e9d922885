"""Round trip of `VerdictClient.check`: intent produced, verdict back, one at a time.

    .venv/bin/python benchmarks/verdict_roundtrip.py [--count 200]

Runs against the stack in KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL (default: the dev stack,
127.0.0.1:9092 and :8081): starts its own worker (unique app id, topic prefix and data dir),
gives half the recipients consent, then checks `--count` intents one after another and prints
p50, p90, p99 and max in milliseconds as JSON. Nothing is asserted: numbers, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.producer import GateProducer
from connectors.verdicts import VerdictClient
from streams.devtools.ports import free_port
from streams.devtools.runner import WorkerProcess
from streams.runtime.admin import ensure_topics
from streams.serdes import codec_for
from streams.settings import Settings


def phone(n: int) -> str:
    return f"+1415{7_000_000 + n:07d}"


def consent(n: int) -> dict[str, Any]:
    return {
        "type": "consent",
        "id": f"bench-c{n}",
        "at": "2026-01-01T00:00:00Z",
        "channel": "sms",
        "address": phone(n),
        "party": "company",
        "purpose": "marketing",
        "action": "grant",
        "jurisdiction": "US",
        "evidence": {"source": "web_form"},
    }


def intent(run: str, n: int) -> dict[str, Any]:
    # 19:00Z is noon in California: outside the US quiet hours whatever the date
    at = datetime.now(UTC).replace(hour=19, minute=0, second=0, microsecond=0)
    return {
        "type": "intent",
        "id": f"{run}-i{n}",
        "at": at.isoformat().replace("+00:00", "Z"),
        "channel": "sms",
        "address": phone(n % 50),
        "sender": "company",
        "category": "promotional",
        "has_opt_out": True,
        "body": "Spring offer: 10% off. Reply STOP to opt out.",
        "jurisdiction": "US",
        "timezone": "America/Los_Angeles",
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def mean_ms(scrape: str, histogram: str) -> float | None:
    """Mean of a Prometheus histogram in a scrape (summed over its labels), in milliseconds."""
    totals = {"_sum": 0.0, "_count": 0.0}
    for line in scrape.splitlines():
        for suffix in totals:
            name = histogram + suffix
            if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
                totals[suffix] += float(line.rsplit(" ", 1)[1])
    return round(1000 * totals["_sum"] / totals["_count"], 2) if totals["_count"] else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    run = f"rt-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix=f"{run}-"))
    settings = Settings.from_env().replace(
        app_id=f"{run}-app",
        topic_prefix=f"{run}.",
        data_dir=work / "data",
        web_port=free_port(),
        partitions=6,
        store="memory://",
    )
    ensure_topics(settings)
    codec = codec_for(settings, register=True)
    worker = WorkerProcess(settings, work / "worker.log").start()
    client = VerdictClient.for_settings(settings, codec)
    try:
        producer = GateProducer.for_settings(settings, codec)
        for n in range(0, 50, 2):  # even recipients consented: allows and denies both measured
            producer.publish(consent(n), wait=True)
        client.check_sync(intent(run, 10_000), timeout=60)  # warm up: worker assigned and ready
        seconds: list[float] = []
        missing = 0
        decisions: dict[str, int] = {}
        for n in range(args.count):
            started = time.perf_counter()
            verdict = client.check_sync(intent(run, n), timeout=args.timeout)
            seconds.append(time.perf_counter() - started)
            if verdict is None:
                missing += 1
            else:
                decisions[verdict.reason] = decisions.get(verdict.reason, 0) + 1
        scrape = worker.scrape()
    finally:
        client.close()
        worker.stop()
    ms = [s * 1000 for s in seconds]
    report = {
        "intents": args.count,
        "no_verdict": missing,
        "reasons": decisions,
        "p50_ms": round(statistics.median(ms), 2),
        "p90_ms": round(percentile(ms, 0.90), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
        # the worker's own view (broker timestamp of the intent to verdict acknowledged), so
        # the client's share of the round trip shows: mean over the warm-up and every intent
        "worker_decision_mean_ms": mean_ms(scrape, "consentgate_decision_latency_seconds"),
        "worker_hold_mean_ms": mean_ms(scrape, "consentgate_ordering_hold_seconds"),
        "bootstrap": settings.kafka_bootstrap_servers,
    }
    print(json.dumps(report))
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
