"""Contract records for tests: one builder per record type, any field changed by keyword.

`consent(channel="email")`, `optout(at=...)`, `intent(category="transactional", body=None)`.
The defaults make a valid history for one US recipient on 2026-06-01, in the order a history
has: partner agreement at 00:00Z, consent at 17:00Z, opt-out at 18:30Z, intent at 19:00Z (noon
in San Francisco, inside the US quiet-hours window). A change to `None` keeps the field as null;
`omit=` drops fields. Without an `id` one is derived from the record's channel, address (or
party) and time: records that differ there never share an id (the gate ignores a repeated id),
and two equal builds share one, as a redelivery does.

Records come as the contract's JSON lines have them, with `type`; the Avro codec takes them
through `connectors.producer.wire_record`, which drops it. `mock_codec()` is that codec on
confluent-kafka's in-memory registry, for tests without a broker.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient

from streams.serdes import ParsedSchema, WireCodec, new_registry_client

PHONE = "+14155550101"  # San Francisco
EMAIL = "alice@example.com"
PARTNER = "acme-partner"
SMS_PROMO = "Summer plans: 20% off all data bundles this week. Reply STOP to opt out."
EMAIL_PROMO = "15% off for members. Unsubscribe: https://example.com/u/abc123"


def address_for(channel: str) -> str:
    """The default recipient's address on `channel`."""
    return EMAIL if channel == "email" else PHONE


def consent(*, omit: Iterable[str] = (), **changes: Any) -> dict[str, Any]:
    """A first-party marketing grant with web-form evidence."""
    channel = changes.get("channel", "sms")
    record = {
        "type": "consent",
        "at": "2026-06-01T17:00:00Z",
        "channel": channel,
        "address": address_for(channel),
        "party": "company",
        "purpose": "marketing",
        "action": "grant",
        "jurisdiction": "US",
        "evidence": {"source": "web_form"},
    }
    return _finish("c", record, changes, omit)


def optout(*, omit: Iterable[str] = (), **changes: Any) -> dict[str, Any]:
    """An opt-out from every party (`party` null) by sms keyword."""
    channel = changes.get("channel", "sms")
    record = {
        "type": "optout",
        "at": "2026-06-01T18:30:00Z",
        "channel": channel,
        "address": address_for(channel),
        "party": None,
        "method": "sms_keyword",
        "jurisdiction": "US",
    }
    return _finish("o", record, changes, omit)


def intent(*, omit: Iterable[str] = (), **changes: Any) -> dict[str, Any]:
    """A first-party promotional message with an opt-out mechanism; the body fits the channel
    (sms and mms: Reply STOP; email: an unsubscribe link; other channels: none)."""
    channel = changes.get("channel", "sms")
    record: dict[str, Any] = {
        "type": "intent",
        "at": "2026-06-01T19:00:00Z",
        "channel": channel,
        "address": address_for(channel),
        "sender": "company",
        "category": "promotional",
        "has_opt_out": True,
        "jurisdiction": "US",
    }
    if channel in ("sms", "mms"):
        record["body"] = SMS_PROMO
    elif channel == "email":
        record["body"] = EMAIL_PROMO
    return _finish("m", record, changes, omit)


def partner(*, omit: Iterable[str] = (), **changes: Any) -> dict[str, Any]:
    """A signed agreement with a partner, without expiry."""
    record = {
        "type": "partner",
        "at": "2026-06-01T00:00:00Z",
        "party": PARTNER,
        "agreement": "signed",
    }
    return _finish("p", record, changes, omit)


def _finish(
    prefix: str, record: dict[str, Any], changes: dict[str, Any], omit: Iterable[str]
) -> dict[str, Any]:
    record.update(changes)
    omitted = set(omit)
    for name in omitted:
        record.pop(name, None)
    if "id" not in record and "id" not in omitted:
        where = record.get("address", record.get("party"))
        record["id"] = f"{prefix}-{record.get('channel', '')}-{where}-{record.get('at')}"
    return record


def mock_registry() -> SchemaRegistryClient:
    """A fresh in-memory registry: confluent-kafka gives its mock for a `mock://` url, and a
    unique name keeps tests from sharing one."""
    return new_registry_client(f"mock://{uuid.uuid4().hex}")


def mock_codec(registry: SchemaRegistryClient | None = None, **options: Any) -> WireCodec:
    """A codec with every current schema registered on `registry` (a fresh mock by default).
    The mock has no compatibility endpoint, so none is set."""
    codec = WireCodec(registry if registry is not None else mock_registry(), **options)
    codec.register_all(compatibility=None)
    return codec


def without_fast_path(schemas: Mapping[str, ParsedSchema]) -> dict[str, ParsedSchema]:
    """The schemas with no compiled reader or writer: a codec on them takes fastavro's path."""
    return {n: dataclasses.replace(p, fast_read=None, fast_write=None) for n, p in schemas.items()}
