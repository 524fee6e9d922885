"""One import run: rows in, contract records out to a sink, rejects to a file, a summary at the end.

The run holds one row and its records at a time. What bounds memory on the Kafka side is the
producer's local queue (`QUEUE_LIMITS`): when it is full, sending waits for acknowledgements.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from connectors.importers import generic, klaviyo, mailchimp, sendgrid
from connectors.importers.common import (
    ImportContext,
    MapperFactory,
    Record,
    Rejected,
    Row,
    Source,
    row_fields_for_reject,
)
from connectors.producer import wire_record
from streams.serdes import WireCodec
from streams.topics import TOPIC_OF_RECORD_TYPE, TopicSpec

FORMATS: dict[str, MapperFactory] = {
    "mailchimp": mailchimp.mapper,
    "sendgrid": sendgrid.mapper,
    "klaviyo": klaviyo.mapper,
    "csv": generic.mapper,
}

# librdkafka's defaults let 1 GB wait in the producer; an import keeps it to 64 MB.
QUEUE_LIMITS: dict[str, Any] = {
    "queue.buffering.max.messages": 200_000,
    "queue.buffering.max.kbytes": 65_536,
    "linger.ms": 20,
    "batch.size": 1_000_000,
}


@dataclass
class ImportStats:
    read: int = 0
    grants: int = 0
    confirms: int = 0
    optouts: int = 0
    skipped: int = 0
    rejected: int = 0
    published: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def count(self, record: Record) -> None:
        if record["type"] == "optout":
            self.optouts += 1
        elif record["action"] == "confirm":
            self.confirms += 1
        else:
            self.grants += 1

    def table(self, dry_run: bool) -> str:
        rows = [
            (f.name.replace("optouts", "opt-outs"), getattr(self, f.name)) for f in fields(self)
        ]
        rows = [(name, value) for name, value in rows if name != "seconds"]
        if dry_run:
            rows = [(n, v) for n, v in rows if n not in ("published", "failed")]
            rows.append(("published", "none (dry run)"))
        rows += [("seconds", f"{self.seconds:.1f}"), ("rows/s", f"{self.rows_per_s:,.0f}")]
        width = max(len(name) for name, _ in rows)
        lines = [f"{'':-<{width + 16}}"]
        for name, value in rows:
            text = f"{value:,}" if isinstance(value, int) else str(value)
            lines.append(f"{name:<{width}}  {text:>14}")
        lines.append(lines[0])
        return "\n".join(lines)


class Sink(Protocol):
    """Where encoded records go: Kafka, or nowhere (a dry run)."""

    def send(self, spec: TopicSpec, key: str, value: bytes) -> None: ...

    def finish(self) -> tuple[int, int]:
        """Wait for every record sent; returns (acknowledged, failed)."""
        ...


class DryRunSink:
    """Counts what would be published; the records were encoded, so they fit their schemas."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, spec: TopicSpec, key: str, value: bytes) -> None:
        self.sent += 1

    def finish(self) -> tuple[int, int]:
        return self.sent, 0


class ProducerSink:
    """Sends through `GateProducer` (acks=all) without waiting per record, counting reports."""

    def __init__(self, producer: Any, ack_timeout: float) -> None:
        self._producer = producer
        self._ack_timeout = ack_timeout
        self.sent = self.acked = self.failed = 0
        self.first_error = ""

    def _report(self, error: Any, message: Any) -> None:
        if error is None:
            self.acked += 1
            return
        self.failed += 1
        self.first_error = self.first_error or str(error)

    def send(self, spec: TopicSpec, key: str, value: bytes) -> None:
        self.sent += 1
        self._producer.send_encoded(spec, key, value, self._report)

    def finish(self) -> tuple[int, int]:
        from connectors.producer import PublishError

        try:
            self._producer.flush(self._ack_timeout)
        except PublishError as exc:
            self.first_error = self.first_error or str(exc)
        unacknowledged = self.sent - self.acked - self.failed  # timed out in the queue
        return self.acked, self.failed + unacknowledged


class Progress:
    """A bar on a terminal, a line every few seconds otherwise; on standard error either way."""

    def __init__(self, total_bytes: int, stream: IO[str] | None = None, every_s: float = 0.0):
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s or (0.2 if self.interactive else 10.0)
        self.total = max(total_bytes, 1)
        self.started = time.monotonic()
        self._next = self.started + self.every_s

    def tick(self, rows: int, bytes_read: Callable[[], int]) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every_s
        share = min(bytes_read() / self.total, 1.0)
        rate = rows / max(now - self.started, 1e-9)
        if self.interactive:
            bar = "#" * int(share * 30)
            self.stream.write(f"\r[{bar:<30}] {share:6.1%}  {rows:>12,} rows  {rate:>9,.0f} rows/s")
        else:
            self.stream.write(f"read {rows} rows ({share:.0%}), {rate:.0f} rows/s\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


class RejectsFile:
    """`{"file", "line", "reason", "fields"}` a line; always written: empty means no rejects."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out = open(path, "wb")  # noqa: SIM115 - closed by close()

    def write(self, row: Row, reason: str) -> None:
        entry = {
            "file": row.source,
            "line": row.line,
            "reason": reason,
            "fields": row_fields_for_reject(row),
        }
        self._out.write(orjson.dumps(entry) + b"\n")

    def close(self) -> None:
        self._out.close()


def mapped_rows(source: Source, ctx: ImportContext) -> Iterator[tuple[Row, list[Record] | str]]:
    """Each row with its records, or with the reason it is rejected. Raises `HeaderError` for a
    file whose header does not fit the format."""
    factory = FORMATS[ctx.format]
    for _, header, rows in source.tables():
        map_row = factory(ctx, header)
        for row in rows:
            if row.error:
                yield row, row.error
                continue
            try:
                yield row, map_row(row)
            except Rejected as exc:
                yield row, str(exc)


def run_import(
    source: Source,
    ctx: ImportContext,
    codec: WireCodec,
    sink: Sink,
    rejects: RejectsFile,
    progress: Progress | None = None,
) -> ImportStats:
    """Read, map, encode and send every row; wait for the sink; count everything."""
    stats = ImportStats()
    started = time.perf_counter()
    encode = codec.encode
    send = sink.send
    try:
        for row, outcome in mapped_rows(source, ctx):
            stats.read += 1
            if progress is not None and not stats.read & 1023:
                progress.tick(stats.read, lambda: source.bytes_read)
            if isinstance(outcome, str):
                stats.rejected += 1
                rejects.write(row, outcome)
                continue
            if not outcome:
                stats.skipped += 1
                continue
            try:  # all of a row's records, or none of them
                encoded = [(TOPIC_OF_RECORD_TYPE[r["type"]], r) for r in outcome]
                values = [encode(spec, wire_record(record)) for spec, record in encoded]
            except Exception as exc:  # a value the schema cannot take: this row only
                stats.rejected += 1
                rejects.write(row, f"does not fit its schema: {exc}"[:300])
                continue
            for (spec, record), value in zip(encoded, values, strict=True):
                send(spec, record["address"], value)
                stats.count(record)
    finally:
        if progress is not None:
            progress.close()
        rejects.close()
    stats.published, stats.failed = sink.finish()
    stats.seconds = time.perf_counter() - started
    return stats


def dry_run_codec() -> WireCodec:
    """A codec on confluent-kafka's in-memory registry: a dry run checks every record against
    the schemas without a registry or a broker."""
    import uuid

    from streams.serdes import new_registry_client

    codec = WireCodec(new_registry_client(f"mock://import-{uuid.uuid4().hex}"))
    codec.register_all(compatibility=None)
    return codec
