"""Micro-benchmarks of the wire codec: what one record costs on the hot path.

Run: .venv/bin/pytest benchmarks/bench_serdes.py --benchmark-enable
(in-memory `mock://` registry: after the first call no registry call is made, as in production.)
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from fastavro import schemaless_reader

from streams import topics
from streams.serdes import WireCodec, load_schemas
from tests.builders import mock_codec, without_fast_path

AT = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
INTENT = {
    "id": "m-000000123",
    "at": AT,
    "channel": "sms",
    "address": "+14155550124",
    "sender": "company",
    "category": "promotional",
    "has_opt_out": True,
    "body": "Summer plans: 20% off all data bundles this week. Reply STOP to opt out.",
    "jurisdiction": "US",
    "timezone": None,
    "campaign": "summer-2026",
    "region": "US-CA",
    "subject": None,
}
VERDICT = {
    "id": "m-000000123",
    "decision": "deny",
    "reason": "NO_CONSENT",
    "reasons": ["NO_CONSENT", "MISSING_OPT_OUT"],
    "policy_version": "no-unsolicited-advertising/2026-06",
    "decided_at": AT,
    "channel": "sms",
    "sender": "company",
    "category": "promotional",
    "rules_evaluated": ["third_party", "content", "category", "consent", "opt_out_mechanism"],
    "intent_at": AT,
}
# What the policy layer's Verdict.to_dict gives: instants as ISO-8601 text.
VERDICT_ISO = {
    **VERDICT,
    "decided_at": "2026-06-01T16:00:00.250Z",
    "intent_at": "2026-06-01T16:00:00Z",
}


@pytest.fixture(scope="module")
def codec() -> WireCodec:
    c = mock_codec()
    c.prefetch()
    return c


def test_intent_decode_with_checks(benchmark: Any, codec: WireCodec) -> None:
    data = codec.encode(topics.INTENTS, INTENT)
    assert benchmark(codec.decode, topics.INTENTS, data) == INTENT


@pytest.fixture(scope="module")
def fastavro_codec() -> WireCodec:
    """The same codec without the compiled readers and writers: fastavro's path throughout."""
    c = mock_codec(schemas=without_fast_path(load_schemas()))
    c.prefetch()
    return c


def test_intent_decode_with_checks_fastavro_path(benchmark: Any, fastavro_codec: WireCodec) -> None:
    """The checked decode as it was before the compiled readers: read, then re-encode."""
    data = fastavro_codec.encode(topics.INTENTS, INTENT)
    assert benchmark(fastavro_codec.decode, topics.INTENTS, data) == INTENT


def test_intent_decode_fastavro_only_baseline(benchmark: Any, codec: WireCodec) -> None:
    """fastavro alone, no checks: the cost the checks add is the difference."""
    data = codec.encode(topics.INTENTS, INTENT)
    parsed = codec.schema_for(topics.INTENTS).parsed

    def plain() -> Any:
        fo = io.BytesIO(data)
        fo.seek(5)
        return schemaless_reader(fo, parsed, None)

    assert benchmark(plain) == INTENT


def test_verdict_encode(benchmark: Any, codec: WireCodec) -> None:
    data = benchmark(codec.encode, topics.VERDICTS, VERDICT)
    assert codec.decode(topics.VERDICTS, data)["id"] == VERDICT["id"]


def test_verdict_encode_trusted(benchmark: Any, codec: WireCodec) -> None:
    """How the gate writes its verdicts: built from its own typed values, no field check."""
    data = benchmark(codec.encode, topics.VERDICTS, VERDICT, trusted=True)
    assert codec.decode(topics.VERDICTS, data)["id"] == VERDICT["id"]


def test_verdict_encode_trusted_fastavro_path(benchmark: Any, fastavro_codec: WireCodec) -> None:
    data = benchmark(fastavro_codec.encode, topics.VERDICTS, VERDICT, trusted=True)
    assert fastavro_codec.decode(topics.VERDICTS, data)["id"] == VERDICT["id"]


def test_verdict_encode_from_iso_text(benchmark: Any, codec: WireCodec) -> None:
    data = benchmark(codec.encode, topics.VERDICTS, VERDICT_ISO)
    assert codec.decode(topics.VERDICTS, data)["decision"] == "deny"
