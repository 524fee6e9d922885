"""`consentgate audit ADDRESS` and `consentgate violations`: the compliance team's questions.

`audit` answers "why did this person get this message, and what did they agree to?": every
ledger entry about the address (consent, opt-out, with evidence; schemas/README.md, "Ledger") and
every verdict about its recipient, by time, each verdict with its reasons and the records it
relied on. Verdicts carry no address, only `recipient_ref`, so they are matched by the address's
pseudonym under every configured key, plus every pseudonym the ledger entries of the address
carry (workers whose key this machine lacks). Agreement records the verdicts relied on are listed
too. `violations` exports violations, filtered by sender, rule and time.

Both read their topics from the beginning up to the end offsets taken when they start (the
verdicts topic is never followed without a bound), with a group-less consumer that commits
nothing, and print JSON lines (`--json`, the default of `violations`), CSV (`--csv`) or, for
`audit`, one readable line per event.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import IO, Any, Final

import orjson

from streams import topics
from streams.policy.state import short_id
from streams.policy.times import format_instant, parse_instant
from streams.settings import Settings

AUDIT_COLUMNS: Final = (
    "time", "event", "id", "channel", "party", "action", "decision", "reason", "reasons",
    "grant_id", "confirm_id", "agreement_id", "optout_id", "recipient_ref", "evidence",
    "source",
)  # fmt: skip
VIOLATION_COLUMNS: Final = (
    "at", "id", "intent_id", "sender", "channel", "rule", "severity", "reasons", "campaign",
    "policy_version", "recipient_ref", "intent_at", "delivered_at", "delivered_ref",
)  # fmt: skip
RELIED: Final = ("grant_id", "confirm_id", "agreement_id", "optout_id")
READ_STALL_S: Final = 30.0


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser(
        "audit", help="every record and verdict about one recipient address, in time order"
    )
    audit.add_argument("address", help="the address (e-mail, or phone number, E.164 or local)")
    audit.add_argument("--channel", help="channel to normalize it for (default: email with @, "
                       "else sms; every channel of the address is shown)")  # fmt: skip
    audit.add_argument("--jurisdiction", help="country of a phone number written without +")
    _formats(audit)
    audit.set_defaults(func=run_audit)
    violations = subparsers.add_parser("violations", help="export violations, filtered")
    violations.add_argument("--sender", help="only this sender party")
    violations.add_argument("--rule", help="only this rule (reason code)")
    violations.add_argument("--since", help="only violations at or after this instant (ISO-8601)")
    violations.add_argument("--until", help="only violations before this instant (ISO-8601)")
    _formats(violations)
    violations.set_defaults(func=run_violations)


def _formats(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="JSON lines")
    group.add_argument("--csv", action="store_true", help="CSV with a header line")


# ---------------------------------------------------------------- pure: events and filters


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def ledger_event(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One ledger entry as an audit event."""
    action = entry.get("action") or entry.get("method")
    return {
        "time": _text(entry.get("at")),
        "event": entry.get("kind"),
        "id": entry.get("record_id"),
        "channel": entry.get("channel"),
        "party": entry.get("party"),
        "action": action,
        "basis": entry.get("basis"),
        "jurisdiction": entry.get("jurisdiction"),
        "expires": _text(entry.get("expires")),
        "evidence": dict(entry.get("evidence") or {}),
        "repairs": list(entry.get("repairs") or ()),
        "received_at": _text(entry.get("received_at")),
        "recipient_ref": entry.get("recipient_ref"),
        "source": f"{entry.get('source_topic')}[{entry.get('source_partition')}]"
        f"@{entry.get('source_offset')}",
    }


def verdict_event(verdict: Mapping[str, Any]) -> dict[str, Any]:
    """One verdict as an audit event: timed by its intent's `at` (else when it was decided)."""
    return {
        "time": _text(verdict.get("intent_at") or verdict.get("decided_at")),
        "event": "verdict",
        "id": verdict.get("id"),
        "channel": verdict.get("channel"),
        "party": verdict.get("sender"),
        "action": verdict.get("category"),
        "decision": verdict.get("decision"),
        "reason": verdict.get("reason"),
        "reasons": list(verdict.get("reasons") or ()),
        **{name: verdict.get(name) for name in RELIED},
        "recipient_ref": verdict.get("recipient_ref"),
        "decided_at": _text(verdict.get("decided_at")),
        "policy_version": verdict.get("policy_version"),
    }


def about(entry: Mapping[str, Any], address: str, refs: set[str]) -> bool:
    return entry.get("address") == address or entry.get("recipient_ref") in refs


def timeline(
    ledger: Iterable[Mapping[str, Any]],
    verdicts: Iterable[Mapping[str, Any]],
    address: str,
    refs: Iterable[str],
) -> list[dict[str, Any]]:
    """The audit of one normalized address: its ledger entries, the verdicts naming any of
    `refs` or a pseudonym its entries carry, and the agreement records those verdicts relied
    on, sorted by time (records before verdicts at one instant, as the gate applies them)."""
    known = set(refs)
    entries = list(ledger)
    own = [e for e in entries if about(e, address, known)]
    known |= {e["recipient_ref"] for e in own if e.get("recipient_ref")}
    chosen: dict[str, Mapping[str, Any]] = {}
    for verdict in verdicts:
        if verdict.get("recipient_ref") not in known:
            continue
        key = f"{verdict.get('id')}\x00{_text(verdict.get('decided_at'))}"
        seen = chosen.get(key)  # a reprocessed intent repeats its verdict: keep the fullest
        if seen is None or _named(verdict) > _named(seen):
            chosen[key] = verdict
    agreements = {v.get("agreement_id") for v in chosen.values()} - {None}
    own += [
        e for e in entries
        if e.get("kind") == "partner" and _short(e.get("record_id")) in agreements
    ]  # fmt: skip
    events = [ledger_event(e) for e in own] + [verdict_event(v) for v in chosen.values()]
    events.sort(key=lambda e: (e["time"] or "", e["event"] == "verdict", str(e["id"])))
    return events


def _named(verdict: Mapping[str, Any]) -> int:
    return sum(verdict.get(name) is not None for name in RELIED)


def _short(record_id: Any) -> Any:
    return record_id if not isinstance(record_id, str) else short_id(record_id)


def violation_filter(
    *, sender: str | None, rule: str | None, since: datetime | None, until: datetime | None
) -> Any:
    """A predicate on decoded violations (every filter given must hold)."""

    def keep(violation: Mapping[str, Any]) -> bool:
        at = violation.get("at")
        return (
            (sender is None or violation.get("sender") == sender)
            and (rule is None or violation.get("rule") == rule)
            and (since is None or (isinstance(at, datetime) and at >= since))
            and (until is None or (isinstance(at, datetime) and at < until))
        )

    return keep


def violation_row(violation: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _text(violation.get(name)) for name in VIOLATION_COLUMNS}


def write_rows(
    rows: Iterable[Mapping[str, Any]], out: IO[str], *, fmt: str, columns: tuple[str, ...]
) -> int:
    """Rows as JSON lines (`json`), CSV (`csv`: lists and objects as JSON text) or readable
    lines (`text`). Returns how many were written."""
    count = 0
    writer = None
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
    for row in rows:
        if writer is not None:
            writer.writerow({k: _cell(row.get(k)) for k in columns})
        elif fmt == "json":
            out.write(orjson.dumps(row).decode() + "\n")
        else:
            out.write(readable(row) + "\n")
        count += 1
    return count


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode() if value else ""
    return "" if value is None else value


def readable(event: Mapping[str, Any]) -> str:
    if event.get("event") == "verdict":
        relied = ", ".join(f"{n[:-3]} {event[n]}" for n in RELIED if event.get(n))
        return (
            f"{event['time']}  verdict {event['id']}: {event['decision']} {event['reason']} "
            f"({event.get('action')} from {event.get('party')} on {event.get('channel')}; "
            f"reasons {', '.join(event.get('reasons') or ())}; "
            f"relied on {relied or 'no record'})"
        )
    evidence = ", ".join(f"{k}={v}" for k, v in (event.get("evidence") or {}).items())
    party = event.get("party")
    whom = f"{party}" if event["event"] == "partner" else f"from {party or 'every party'}"
    return (
        f"{event['time']}  {event['event']} {event['id']}: {event.get('action')} {whom}"
        f"{' on ' + event['channel'] if event.get('channel') else ''}"
        f"{'; evidence ' + evidence if evidence else ''}  [{event['source']}]"
    )


# ---------------------------------------------------------------- Kafka: bounded reads


def read_topic(settings: Settings, spec: topics.TopicSpec) -> Iterator[dict[str, Any]]:
    """Every record of `spec`'s topic from the beginning to the end offsets of now, decoded.
    Undecodable values are skipped with a note on standard error. A compacted topic (the
    ledger) gives the latest value of each key, as compaction will: a key whose latest record is
    a tombstone (erased, issue 15 §6) gives nothing, even before compaction ran."""
    from confluent_kafka import Consumer, TopicPartition

    from streams.kafka_config import client_config
    from streams.serdes import DecodeError, codec_for

    codec = codec_for(settings)
    name = spec.name(settings.topic_prefix)
    group = f"consentgate-audit-{uuid.uuid4()}"  # never committed: disturbs no one
    consumer = Consumer(client_config(settings, **{"group.id": group, "enable.auto.commit": False}))
    try:
        metadata = consumer.list_topics(name, timeout=10)
        found = metadata.topics.get(name)
        if found is None or found.error is not None:
            return
        ends: dict[int, int] = {}
        starts = []
        for partition in found.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=10)
            if high > low:
                ends[partition] = high
                starts.append(TopicPartition(name, partition, low))
        if not starts:
            return
        consumer.assign(starts)
        last = time.monotonic()
        latest: dict[bytes | None, tuple[int, int, bytes | None]] = {}
        while ends:
            message = consumer.poll(0.5)
            if message is None or message.error():
                if time.monotonic() - last > READ_STALL_S:
                    raise TimeoutError(f"{name}: no progress for {READ_STALL_S:.0f} s")
                continue
            last = time.monotonic()
            partition, offset = message.partition(), message.offset()
            end = None if partition is None else ends.get(partition)
            if partition is None or end is None or offset is None or offset >= end:
                if partition is not None:  # past the bound taken at start
                    ends.pop(partition, None)
                continue
            if offset + 1 >= end:
                del ends[partition]
            if spec.compacted:
                latest[message.key()] = (partition, offset, message.value())
                continue
            if message.value() is None:
                continue
            try:
                yield codec.decode(spec, message.value())
            except DecodeError as exc:
                print(f"{name}[{partition}]@{offset}: skipped, {exc}", file=sys.stderr)
        for partition, offset, value in latest.values():
            if value is None:
                continue
            try:
                yield codec.decode(spec, value)
            except DecodeError as exc:
                print(f"{name}[{partition}]@{offset}: skipped, {exc}", file=sys.stderr)
    finally:
        consumer.close()


def _format(args: argparse.Namespace, default: str) -> str:
    return "json" if args.json else "csv" if args.csv else default


def run_audit(args: argparse.Namespace) -> int:
    from streams.policy.addresses import normalize_address
    from streams.policy.errors import InvalidAddress
    from streams.runtime.ledger import pseudonyms_for

    settings = Settings.from_env()
    channel = args.channel or ("email" if "@" in args.address else "sms")
    region = args.jurisdiction.strip().upper() if args.jurisdiction else None
    try:
        address = normalize_address(channel, args.address, region)
    except InvalidAddress as exc:
        print(f"consentgate audit: {exc.message}", file=sys.stderr)
        return 2
    pseudonyms = pseudonyms_for(settings, create=False)
    refs = set(pseudonyms.refs(address)) if pseudonyms is not None else set()
    ledger = list(read_topic(settings, topics.LEDGER))
    events = timeline(ledger, read_topic(settings, topics.VERDICTS), address, refs)
    write_rows(events, sys.stdout, fmt=_format(args, "text"), columns=AUDIT_COLUMNS)
    if not events:
        print(f"consentgate audit: nothing on record about {address}", file=sys.stderr)
    return 0


def run_violations(args: argparse.Namespace) -> int:
    from streams.policy.config import canonical_party

    settings = Settings.from_env()
    try:
        keep = violation_filter(
            sender=canonical_party(args.sender) if args.sender else None,
            rule=args.rule.strip().upper() if args.rule else None,
            since=parse_instant(args.since, "--since") if args.since else None,
            until=parse_instant(args.until, "--until") if args.until else None,
        )
    except ValueError as exc:
        print(f"consentgate violations: {exc}", file=sys.stderr)
        return 2
    rows = (violation_row(v) for v in read_topic(settings, topics.VIOLATIONS) if keep(v))
    write_rows(rows, sys.stdout, fmt=_format(args, "json"), columns=VIOLATION_COLUMNS)
    return 0
