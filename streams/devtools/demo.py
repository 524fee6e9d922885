"""`consentgate demo`: the whole pipeline on the embedded stack, with realistic traffic.

Starts the local stack (unless one is configured) and a worker, loads consent for a few thousand
recipients, then sends intents at a steady rate and shows, every second, what the gate decided and
how fast. It also runs the HTTP connectors and prints a working unsubscribe link for one recipient
(`demo_connectors.py`): click it and that recipient's next mails are denied. Ctrl-C (or
`--duration`) stops everything the demo started, clients first, and nothing else; so do SIGTERM
and SIGHUP (a `kill`, a closed terminal, a timeout), which would otherwise end the demo at once
and leave its worker, connectors and broker running.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams import topics
from streams.devtools.demo_connectors import (
    ConnectorsFailed,
    ConnectorsProcess,
    Watch,
    unsubscribe_link,
    watched_recipient,
    with_connectors,
)
from streams.devtools.runner import WorkerFailed, WorkerProcess
from streams.devtools.workload import (
    Clock,
    consent_records,
    intent_records,
    make_recipients,
    partner_records,
)
from streams.settings import Settings

DEMO_PREFIX = "demo."
READER_STOP_S = 5.0  # the verdict reader ends within a poll (0.2 s) of the stop


class Tally:
    """Verdicts read back from Kafka, counted by decision and reason; the watched recipient's
    own verdicts are also handed to its `Watch`."""

    def __init__(self, watch: Watch | None = None) -> None:
        self.by_reason: Counter[tuple[str, str]] = Counter()
        self.total = 0
        self.lock = threading.Lock()
        self.watch = watch

    def add(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.by_reason[(record["decision"], record["reason"])] += 1
            self.total += 1
        if self.watch is not None:
            self.watch.seen(record)


def _follow(settings: Settings, tally: Tally, stop: threading.Event) -> None:
    from streams.cli.tail import follow

    for record in follow(settings, topics.VERDICTS, from_end=True, idle_s=0, stop=stop):
        tally.add(record)


def _render(tally: Tally, rate: float, elapsed: float, metrics_url: str) -> str:
    with tally.lock:
        rows = sorted(tally.by_reason.items(), key=lambda item: (-item[1], item[0]))
        total = tally.total
    lines = [
        f"consentgate demo — {elapsed:5.0f}s — {total} verdicts — {rate:,.0f} verdicts/s",
        f"metrics: {metrics_url}    (Ctrl-C stops the demo and everything it started)",
    ]
    if tally.watch is not None:
        lines += _watch_lines(tally.watch)
    lines.append("")
    for (decision, reason), count in rows:
        share = 100.0 * count / total if total else 0.0
        lines.append(f"  {decision:<5} {reason:<34} {count:>9}  {share:5.1f}%")
    return "\n".join(lines)


def _watch_lines(watch: Watch) -> list[str]:
    return [
        f"unsubscribe {watch.recipient.address} from {watch.party}: {watch.link}",
        watch.line(),
    ]


def run(args: argparse.Namespace) -> int:
    """The demo on the configured stack, else the embedded one (stopped again if it started it)."""
    from streams.devtools.stacks import StackChoiceError, chosen_stack

    base = Settings.from_env()
    try:
        with (
            stopped_as_by_ctrl_c(),
            chosen_stack(base, log=lambda line: print(line, flush=True)) as stack,
        ):
            return _run_on(stack.settings(base), args)
    except StackChoiceError as exc:
        print(f"consentgate demo: {exc}", file=sys.stderr)
        return 2


TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def stopped_as_by_ctrl_c() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise KeyboardInterrupt, so they stop what the demo started
    as Ctrl-C does; the previous handlers are back afterwards. Main thread only."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in TERMINATING_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class _Demo:
    """What one run started and drives: its settings, children, producer and traffic."""

    run_id: str
    settings: Settings
    worker: WorkerProcess
    connectors: ConnectorsProcess
    stop: threading.Event = field(default_factory=threading.Event)
    producer: Any = None
    tally: Tally = field(default_factory=Tally)
    clock: Clock = field(default_factory=Clock)
    intents: Iterator[dict[str, Any]] = field(default_factory=lambda: iter(()))
    reader: threading.Thread | None = None

    def publish(self, record: dict[str, Any]) -> None:
        self.producer.publish({**record, "id": f"{self.run_id}-{record['id']}"}, wait=False)

    def check_children(self) -> None:
        if not self.worker.alive():
            raise WorkerFailed(f"the worker stopped:\n{self.worker.log_tail()}")
        if not self.connectors.alive():
            raise ConnectorsFailed(f"the connectors stopped:\n{self.connectors.log_tail()}")


def _run_on(base: Settings, args: argparse.Namespace) -> int:
    # Every run gets its own topics, group and store: a demo shows the gate from a clean start.
    run_id = uuid.uuid4().hex[:6]
    settings = base.replace(
        topic_prefix=f"{DEMO_PREFIX}{run_id}.",
        app_id=f"consentgate-demo-{run_id}",
        data_dir=Path(f".consentgate/demo/{run_id}"),
    )
    demo = _Demo(
        run_id,
        settings,
        WorkerProcess(settings, Path(f".consentgate/demo/{run_id}.log")),
        # only the connectors get the run's unsubscribe key
        ConnectorsProcess(
            with_connectors(settings), Path(f".consentgate/demo/{run_id}.connectors.log")
        ),
    )
    try:
        _start(demo, args)
        return _drive(demo, args)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    except (WorkerFailed, ConnectorsFailed) as exc:
        print(f"consentgate demo: {exc}", file=sys.stderr)
        return 1
    finally:
        demo.stop.set()
        if demo.reader is not None:  # its consumer closed before the stack stops
            demo.reader.join(timeout=READER_STOP_S)
        demo.connectors.stop()  # clients first, then the worker; the stack after us
        demo.worker.stop()


def _start(demo: _Demo, args: argparse.Namespace) -> None:
    """Topics, worker, connectors, the consent state, the watched recipient and the reader."""
    from connectors.producer import GateProducer
    from streams.runtime.admin import ensure_topics
    from streams.serdes import codec_for

    ensure_topics(demo.settings)
    codec = codec_for(demo.settings, register=True)
    print("starting the gate worker...", flush=True)
    demo.worker.start()
    print("starting the HTTP connectors...", flush=True)
    demo.connectors.start()
    demo.producer = GateProducer.for_settings(demo.settings, codec)
    recipients = make_recipients(args.recipients, seed=hash(demo.run_id) & 0xFFFF)
    state = partner_records(demo.clock) + list(consent_records(recipients, demo.clock))
    print(f"loading {len(state)} consent, opt-out and partner records...", flush=True)
    demo.producer.publish_all(
        ({**r, "id": f"{demo.run_id}-{r['id']}"} for r in state), wait_each=False
    )
    demo.tally = Tally(_watch(demo, state))
    demo.reader = threading.Thread(
        target=_follow, args=(demo.settings, demo.tally, demo.stop), daemon=True
    )
    demo.reader.start()
    demo.intents = intent_records(recipients, 10**9, demo.clock)


def _watch(demo: _Demo, state: list[dict[str, Any]]) -> Watch | None:
    """The watched recipient, its link printed; None (said so) when the workload has none."""
    try:
        recipient = watched_recipient(state)
    except ValueError as exc:
        print(f"no unsubscribe link this run: {exc} (try more --recipients)", flush=True)
        return None
    link = unsubscribe_link(demo.connectors.settings, recipient)
    watch = Watch(recipient, link, id_prefix=f"{demo.run_id}-watch-")
    print(_watch_lines(watch)[0], flush=True)
    print("open it, click the button: that recipient's next mails are denied OPTED_OUT", flush=True)
    return watch


def _drive(demo: _Demo, args: argparse.Namespace) -> int:
    """Intents at `args.rate`, one mail a second to the watched recipient, a summary a second."""
    watch = demo.tally.watch
    started = time.monotonic()
    last_total, last_time = 0, started
    sent = 0
    while not args.duration or time.monotonic() - started < args.duration:
        tick_start = time.monotonic()
        for _ in range(args.rate // 10):
            demo.publish(next(demo.intents))
            sent += 1
        now = time.monotonic()
        if now - last_time >= 1.0:
            if watch is not None:
                demo.producer.publish(watch.intent(demo.clock), wait=False)
            rate = (demo.tally.total - last_total) / (now - last_time)
            last_total, last_time = demo.tally.total, now
            sys.stdout.write("\x1b[2J\x1b[H" if sys.stdout.isatty() else "\n")
            print(_render(demo.tally, rate, now - started, demo.worker.metrics_url), flush=True)
        demo.producer.flush()
        demo.check_children()
        time.sleep(max(0.0, 0.1 - (time.monotonic() - tick_start)))
    time.sleep(2.0)
    print(f"\nsent {sent} intents; {demo.tally.total} verdicts read back", flush=True)
    print(_render(demo.tally, 0.0, time.monotonic() - started, demo.worker.metrics_url), flush=True)
    return 0
