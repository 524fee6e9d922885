"""`consentgate demo`: the whole pipeline on the embedded stack, with realistic traffic.

Starts the local stack (unless one is configured) and a worker, loads consent for a few thousand
recipients, then sends intents at a steady rate and shows, every second, what the gate decided and
how fast. Ctrl-C (or `--duration`) stops everything the demo started, and nothing else.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from streams import topics
from streams.settings import Settings

DEMO_PREFIX = "demo."


class Tally:
    """Verdicts read back from Kafka, counted by decision and reason."""

    def __init__(self) -> None:
        self.by_reason: Counter[tuple[str, str]] = Counter()
        self.total = 0
        self.lock = threading.Lock()

    def add(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.by_reason[(record["decision"], record["reason"])] += 1
            self.total += 1


def _follow(settings: Settings, tally: Tally, stop: threading.Event) -> None:
    from streams.cli.tail import follow

    for record in follow(settings, topics.VERDICTS, from_end=True, idle_s=0):
        tally.add(record)
        if stop.is_set():
            return


def _render(tally: Tally, rate: float, elapsed: float, metrics_url: str) -> str:
    with tally.lock:
        rows = sorted(tally.by_reason.items(), key=lambda item: (-item[1], item[0]))
        total = tally.total
    lines = [
        f"consentgate demo — {elapsed:5.0f}s — {total} verdicts — {rate:,.0f} verdicts/s",
        f"metrics: {metrics_url}    (Ctrl-C stops the demo and everything it started)",
        "",
    ]
    for (decision, reason), count in rows:
        share = 100.0 * count / total if total else 0.0
        lines.append(f"  {decision:<5} {reason:<34} {count:>9}  {share:5.1f}%")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """The demo on the configured stack, else the embedded one (stopped again if it started it)."""
    from streams.devtools.stacks import StackChoiceError, chosen_stack

    base = Settings.from_env()
    try:
        with chosen_stack(base, log=lambda line: print(line, flush=True)) as stack:
            return _run_on(stack.settings(base), args)
    except StackChoiceError as exc:
        print(f"consentgate demo: {exc}", file=sys.stderr)
        return 2


def _run_on(base: Settings, args: argparse.Namespace) -> int:

    from connectors.producer import GateProducer
    from streams.devtools.runner import WorkerFailed, WorkerProcess
    from streams.devtools.workload import (
        Clock,
        consent_records,
        intent_records,
        make_recipients,
        partner_records,
    )
    from streams.runtime.admin import ensure_topics
    from streams.serdes import codec_for

    # Every run gets its own topics, group and store: a demo shows the gate from a clean start.
    run_id = uuid.uuid4().hex[:6]
    settings = base.replace(
        topic_prefix=f"{DEMO_PREFIX}{run_id}.",
        app_id=f"consentgate-demo-{run_id}",
        data_dir=Path(f".consentgate/demo/{run_id}"),
    )
    worker = WorkerProcess(settings, Path(f".consentgate/demo/{run_id}.log"))
    stop = threading.Event()
    try:
        ensure_topics(settings)
        codec = codec_for(settings, register=True)
        print("starting the gate worker...", flush=True)
        worker.start()
        producer = GateProducer.for_settings(settings, codec)
        recipients = make_recipients(args.recipients, seed=hash(run_id) & 0xFFFF)
        clock = Clock()
        state = partner_records(clock) + list(consent_records(recipients, clock))
        print(f"loading {len(state)} consent, opt-out and partner records...", flush=True)
        producer.publish_all(({**r, "id": f"{run_id}-{r['id']}"} for r in state), wait_each=False)
        tally = Tally()
        reader = threading.Thread(target=_follow, args=(settings, tally, stop), daemon=True)
        reader.start()
        intents = intent_records(recipients, 10**9, clock)
        started = time.monotonic()
        last_total, last_time = 0, started
        sent = 0
        while not args.duration or time.monotonic() - started < args.duration:
            second_start = time.monotonic()
            for _ in range(args.rate // 10):
                record = next(intents)
                producer.publish({**record, "id": f"{run_id}-{record['id']}"}, wait=False)
                sent += 1
            producer.flush()
            now = time.monotonic()
            if now - last_time >= 1.0:
                rate = (tally.total - last_total) / (now - last_time)
                last_total, last_time = tally.total, now
                sys.stdout.write("\x1b[2J\x1b[H" if sys.stdout.isatty() else "\n")
                print(_render(tally, rate, now - started, worker.metrics_url), flush=True)
            if not worker.alive():
                raise WorkerFailed(f"the worker stopped:\n{worker.log_tail()}")
            time.sleep(max(0.0, 0.1 - (time.monotonic() - second_start)))
        time.sleep(2.0)
        print(f"\nsent {sent} intents; {tally.total} verdicts read back", flush=True)
        print(_render(tally, 0.0, time.monotonic() - started, worker.metrics_url), flush=True)
        return 0
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    except WorkerFailed as exc:
        print(f"consentgate demo: {exc}", file=sys.stderr)
        return 1
    finally:
        stop.set()
        worker.stop()
