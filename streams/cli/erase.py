"""`consentgate erase ADDRESS`: erase one person (issue 15 §6).

1. Normalizes the address (refused, exit 2, when it does not: an erasure must never reach the
   wrong person) and produces an `erasure` request to `erasure-requests`, keyed by it.
2. Waits (unless `--no-wait`, at most `--timeout` seconds) for the worker's audit entry on the
   ledger, `erasure:<request id>`: the state is gone and the marker kept once it is there.
3. Tombstones the person's ledger entries dated at or before the erasure: it reads the ledger
   as `consentgate audit` does (`audit.read_topic`, `audit.about`) and produces a null value for
   each key whose latest entry is about the person. The CLI does this, not the worker: the ledger
   is keyed by record id, and only a full read finds one person's keys (the worker would need an
   index by address, another copy of the addresses). Entries of other erasures stay: they are
   the proof that the erasure happened. A record dated before the erasure whose ledger entry
   lands after the read is not tombstoned: run the command again (docs/operations.md).

Prints the audit entry (never the address: the pseudonym), the tombstoned keys, and whether
the worker confirmed. Exit 0 when confirmed (or `--no-wait`), 3 when the worker did not confirm
in time (the request and the tombstones are sent; the worker applies it when it runs).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from streams import topics
from streams.policy.times import format_instant
from streams.settings import Settings

AUDIT_KIND: Final = "erasure"
DEFAULT_TIMEOUT_S: Final = 60.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "erase", help="erase one person's consent state and ledger entries (keeps them opted out)"
    )
    parser.add_argument("address", help="the address (e-mail, or phone number, E.164 or local)")
    parser.add_argument("--channel", help="channel to normalize it for (default: email with @, "
                        "else sms; the erasure covers every channel of the address)")  # fmt: skip
    parser.add_argument("--jurisdiction", help="country of a phone number written without +")
    parser.add_argument("--requested-by", help="who asks (operator or ticket id; never the "
                        "person's address)")  # fmt: skip
    parser.add_argument("--reason", help="why (ticket reference; keep personal data out)")
    parser.add_argument("--id", help="request id, e.g. the ticket's (default: a new "
                        "erasure-<uuid>)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.add_argument("--no-wait", action="store_true",
                        help="do not wait for the worker's audit entry")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"seconds to wait for it (default {DEFAULT_TIMEOUT_S:g})")  # fmt: skip
    parser.set_defaults(func=run)


# ---------------------------------------------------------------- pure: what to send, what to erase


def request_for(args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    """The erasure record the arguments describe, validated as the worker validates it (raises
    InvalidRecord); its `address` normalized, so the key and the record agree."""
    from streams.policy.records import ErasureRecord, parse_record

    raw = {
        "id": args.id or f"erasure-{uuid.uuid4()}",
        "at": format_instant(now),
        "address": args.address,
        "channel": args.channel,
        "jurisdiction": args.jurisdiction,
        "requested_by": args.requested_by,
        "reason": args.reason,
    }
    record = parse_record(raw, kind=ErasureRecord.KIND)
    assert isinstance(record, ErasureRecord)
    return {**raw, "address": record.address, "channel": record.channel,
            "jurisdiction": record.jurisdiction}  # fmt: skip


def ledger_keys_to_erase(
    entries: Iterable[Mapping[str, Any]], address: str, refs: set[str], until: datetime
) -> list[str]:
    """The ledger keys to tombstone: those whose latest entry is about the person (address or
    pseudonym), dated at or before `until`, and not an erasure's audit entry."""
    from streams.cli.audit import about

    latest: dict[str, Mapping[str, Any]] = {}
    for entry in entries:  # one key lives in one partition: read in offset order
        latest[str(entry.get("id"))] = entry
    chosen = []
    for key, entry in latest.items():
        at = entry.get("at")
        if (
            entry.get("kind") != AUDIT_KIND
            and about(entry, address, refs)
            and (not isinstance(at, datetime) or at <= until)
        ):
            chosen.append(key)
    return sorted(chosen)


def result_of(
    request: Mapping[str, Any], audit: Mapping[str, Any] | None, erased: list[str]
) -> dict[str, Any]:
    """What the command prints: never the address."""

    def text(value: Any) -> Any:
        return format_instant(value) if isinstance(value, datetime) else value

    return {
        "type": AUDIT_KIND,
        "id": request["id"],
        "confirmed": audit is not None,
        "at": text(audit["at"]) if audit else request["at"],
        "received_at": text(audit.get("received_at")) if audit else None,
        "recipient_ref": audit.get("recipient_ref") if audit else None,
        "ledger_entry": audit.get("id") if audit else None,
        "requested_by": request.get("requested_by"),
        "reason": request.get("reason"),
        "ledger_tombstones": erased,
    }


def readable(result: Mapping[str, Any]) -> str:
    erased = result["ledger_tombstones"]
    head = (
        f"erasure {result['id']}: applied at {result['at']}, recipient {result['recipient_ref']}"
        if result["confirmed"]
        else f"erasure {result['id']}: requested at {result['at']}, not confirmed by a worker yet"
    )
    return f"{head}; {len(erased)} ledger entries tombstoned" + (
        f" ({', '.join(erased)})" if erased else ""
    )


# ---------------------------------------------------------------- Kafka


def run(args: argparse.Namespace) -> int:
    from streams.cli.audit import read_topic
    from streams.policy.errors import InvalidRecord
    from streams.runtime.admin import ensure_topics
    from streams.runtime.ledger import pseudonyms_for
    from streams.serdes import codec_for

    settings = Settings.from_env()
    now = datetime.now(UTC)
    try:
        request = request_for(args, now)
    except InvalidRecord as exc:
        print(f"consentgate erase: {exc.message}", file=sys.stderr)
        return 2
    address = request["address"]
    pseudonyms = pseudonyms_for(settings, create=False)
    refs = set(pseudonyms.refs(address)) if pseudonyms is not None else set()
    ensure_topics(settings)
    codec = codec_for(settings, register=True)
    follower = LedgerFollower(settings, codec)  # from the ledger's end before the request
    try:
        _produce(settings, topics.ERASURES, [(address, codec.encode(topics.ERASURES, request))])
        audit = None
        if not args.no_wait:
            audit = follower.wait_for(f"{AUDIT_KIND}:{request['id']}", args.timeout)
    finally:
        follower.close()
    until = datetime.fromisoformat(request["at"])
    erased = ledger_keys_to_erase(read_topic(settings, topics.LEDGER), address, refs, until)
    _produce(settings, topics.LEDGER, [(key, None) for key in erased])
    result = result_of(request, audit, erased)
    print(orjson.dumps(result).decode() if args.json else readable(result))
    if audit is None and not args.no_wait:
        print(f"consentgate erase: no worker confirmed {request['id']} within "
              f"{args.timeout:g} s (it will apply it when it runs)", file=sys.stderr)  # fmt: skip
        return 3
    return 0


def _produce(
    settings: Settings, spec: topics.TopicSpec, records: list[tuple[str, bytes | None]]
) -> None:
    """Send and wait for every acknowledgement (murmur2, as every producer: the key's partition
    is the one the gate and compaction expect)."""
    from confluent_kafka import Producer

    from connectors.producer import producer_config
    from streams.kafka_config import security_config

    if not records:
        return
    producer = Producer(
        producer_config(settings.kafka_bootstrap_servers, security=security_config(settings))
    )
    errors: list[str] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            errors.append(str(error))

    name = spec.name(settings.topic_prefix)
    for key, value in records:
        producer.produce(name, value, key.encode(), on_delivery=delivered)
    left = producer.flush(30)
    if left or errors:
        raise RuntimeError(f"{name}: {left} not sent, errors {errors[:3]}")


class LedgerFollower:
    """Reads the ledger from its end offsets as of construction, for one entry."""

    def __init__(self, settings: Settings, codec: Any) -> None:
        from confluent_kafka import Consumer, TopicPartition

        from streams.kafka_config import client_config

        self.codec = codec
        name = topics.LEDGER.name(settings.topic_prefix)
        group = f"consentgate-erase-{uuid.uuid4()}"  # never committed
        self.consumer = Consumer(
            client_config(settings, **{"group.id": group, "enable.auto.commit": False})
        )
        found = self.consumer.list_topics(name, timeout=10).topics.get(name)
        starts = []
        for partition in found.partitions if found is not None else ():
            _, high = self.consumer.get_watermark_offsets(
                TopicPartition(name, partition), timeout=10
            )
            starts.append(TopicPartition(name, partition, high))
        self.consumer.assign(starts)

    def wait_for(self, key: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.consumer.poll(0.5)
            if message is None or message.error() or message.value() is None:
                continue
            if message.key() != key.encode():
                continue
            entry: dict[str, Any] = self.codec.decode(topics.LEDGER, message.value())
            return entry
        return None

    def close(self) -> None:
        self.consumer.close()
