"""Proof of consent (issue 15 §1, §2): the ledger entry for every consent, opt-out and agreement
record the gate reads, and the recipient pseudonyms on verdicts and violations.

The ledger is the compacted `ledger` topic keyed `kind:record id` (topics.LEDGER). Entries go
through the gate's `Outputs`, so they join the batch of the state change: the input is
acknowledged only once its entry is durable. Every valid record gets one, whether or not it
changed the state (a grant older than an opt-out is still evidence that it was given); a
redelivered record writes the same entry under the same key, which compaction folds.

Retention: the topic keeps entries forever (compaction keeps the latest per key). The policy is
"as long as the recipient has state, plus 5 years": erasure (`consentgate erase`, issue 15 §6)
tombstones a person's entries, and an entry outlives the state it proved by the 5 years of
limitation periods for consent claims (docs and schemas/README.md, "Ledger").

Pseudonym keys: CONSENTGATE_PSEUDONYM_KEYS, else a random key made once in the data directory
(`pseudonym.key`, 0600). Never a key written in the code: a known key would make pseudonyms of
phone numbers reversible by anyone.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from streams import topics
from streams.policy.addresses import normalize_address
from streams.policy.errors import InvalidAddress
from streams.policy.pseudonym import Pseudonyms, parse_keys
from streams.policy.records import (
    ConsentRecord,
    OptOutRecord,
    PartnerRecord,
    SendIntent,
    Verdict,
)
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.runtime.gate import Gate, Inbound

log = logging.getLogger(__name__)

KEY_FILE: Final = "pseudonym.key"
GENERATED_KID: Final = "local"


class PseudonymKeyError(ValueError):
    """CONSENTGATE_PSEUDONYM_KEYS, or the key file, cannot be used."""


def pseudonyms_for(settings: Settings, *, create: bool = True) -> Pseudonyms | None:
    """The configured keys; else the data directory's key file, made when `create` (a worker);
    None when there is none and `create` is false (a tool that must not invent a key)."""
    if settings.pseudonym_keys.strip():
        try:
            return Pseudonyms(parse_keys(settings.pseudonym_keys))
        except ValueError as exc:
            raise PseudonymKeyError(f"CONSENTGATE_PSEUDONYM_KEYS: {exc}") from None
    path = _data_dir(settings) / KEY_FILE
    if not path.exists():
        if not create:
            return None
        _make_key(path)
    try:
        return Pseudonyms(parse_keys(path.read_text(encoding="ascii")))
    except (OSError, ValueError) as exc:
        raise PseudonymKeyError(f"{path}: {exc}") from None


def _data_dir(settings: Settings) -> Path:
    from streams.runtime.store_check import resolve_data_dir  # the one rule for the directory

    return resolve_data_dir(settings)


def _make_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = f"{GENERATED_KID}:{base64.b64encode(secrets.token_bytes(32)).decode()}\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker on this directory made it first
        return
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(line)
    log.warning(
        "CONSENTGATE_PSEUDONYM_KEYS is not set: made a random pseudonym key in %s. Set the "
        "variable (the same keys on every worker and tool) before running more than one machine.",
        path,
    )


# ---------------------------------------------------------------- recipient references


def recipient_ref(pseudonyms: Pseudonyms | None, source: SendIntent | dict[str, Any]) -> str | None:
    """The pseudonym of an intent's recipient; for an intent that did not validate, of its
    address where that still normalizes (else None: nothing to name)."""
    if pseudonyms is None:
        return None
    if isinstance(source, SendIntent):
        return pseudonyms.ref(source.address)
    channel, address, country = (source.get(k) for k in ("channel", "address", "jurisdiction"))
    if not isinstance(channel, str) or not isinstance(address, str):
        return None
    try:
        normalized = normalize_address(
            channel, address, country.strip().upper() if isinstance(country, str) else None
        )
    except (InvalidAddress, ValueError):
        return None
    return pseudonyms.ref(normalized)


def with_recipient_ref(
    verdict: Verdict, source: SendIntent | dict[str, Any], pseudonyms: Pseudonyms | None
) -> Verdict:
    """`verdict` naming its recipient by pseudonym (its violation copies it)."""
    ref = recipient_ref(pseudonyms, source)
    if ref is None or ref == verdict.recipient_ref:
        return verdict
    return verdict.named(ref)


# ---------------------------------------------------------------- ledger entries

LedgerRecord = ConsentRecord | OptOutRecord | PartnerRecord


def ledger_key(record: LedgerRecord) -> str:
    return f"{record.KIND}:{record.id}"


def ledger_entry(
    record: LedgerRecord,
    *,
    received_at: datetime,
    source: tuple[str, int, int],
    pseudonyms: Pseudonyms | None,
) -> dict[str, Any]:
    """The ledger value of a record (field values as Avro takes them)."""
    topic, partition, offset = source
    entry: dict[str, Any] = {
        "id": ledger_key(record),
        "kind": record.KIND,
        "record_id": record.id,
        "at": record.at if record.at is not None else received_at,
        "received_at": received_at,
        "channel": None,
        "address": None,
        "recipient_ref": None,
        "party": record.party,
        "action": None,
        "purpose": None,
        "basis": None,
        "method": None,
        "jurisdiction": None,
        "expires": None,
        "evidence": None,
        "repairs": list(getattr(record, "repairs", ())),
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
    }
    if isinstance(record, PartnerRecord):
        entry.update(action=record.agreement, expires=record.expires)
        return entry
    entry.update(
        channel=record.channel,
        address=record.address,
        recipient_ref=None if pseudonyms is None else pseudonyms.ref(record.address),
        jurisdiction=record.jurisdiction,
    )
    if isinstance(record, ConsentRecord):
        entry.update(
            action=record.action,
            purpose=record.purpose,
            basis=record.basis,
            evidence=dict(record.evidence),
        )
    else:
        entry.update(method=record.method)
    return entry


def write_entry(gate: Gate, msg: Inbound, record: LedgerRecord) -> None:
    """Send `record`'s ledger entry in the gate's current output batch."""
    received = (
        datetime.fromtimestamp(msg.timestamp, UTC)
        if msg.timestamp and msg.timestamp > 0
        else datetime.now(UTC)
    )
    entry = ledger_entry(
        record,
        received_at=received,
        source=(msg.topic, msg.partition, msg.offset),
        pseudonyms=gate.pseudonyms,
    )
    value = gate.codec.encode(topics.LEDGER, entry)
    gate.outputs.send(topics.LEDGER, entry["id"].encode(), value)
