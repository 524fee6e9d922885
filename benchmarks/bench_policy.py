"""Throughput of the pure core on one core: decide() on warm states, state encoding, apply, parse.

Run: .venv/bin/pytest benchmarks/bench_policy.py --benchmark-enable
The decide benchmark decides a batch of 10,000 intents over 10,000 recipients per round, so
decisions/s = 10,000 / mean round time (also stored as `extra_info["decisions_per_s"]`).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from streams.policy.config import PolicyConfig
from streams.policy.engine import decide
from streams.policy.records import (
    ConsentRecord,
    OptOutRecord,
    PartnerRecord,
    SendIntent,
    parse_record,
)
from streams.policy.state import Agreements, RecipientState, apply, decode_state, encode_state
from tests.builders import PARTNER, consent, intent, optout, partner

CONFIG = PolicyConfig()
RECIPIENTS = 10_000
NOW = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)
SMS_BODIES = (
    "Summer plans: 20% off all data bundles this week. Reply STOP to opt out.",
    "New phones in store now. Reply STOP to opt out.",
    "Double data weekend! Txt STOP to end.",
)
EMAIL_BODIES = (
    "Autumn collection, 15% off for members. Unsubscribe: https://example.com/u/abc123",
    "Our spring catalogue is here. Manage your preferences at https://example.com/p",
)
SERVICE_BODIES = ("Your order 5512 has shipped.", "Your verification code is 482913.", None)


def _phone(n: int) -> str:
    return f"+1415555{n % 10000:04d}" if n < 10_000 else f"+1212555{n % 10000:04d}"


def _at(minute: int) -> str:
    return f"2026-06-01T{10 + minute // 60:02d}:{minute % 60:02d}:00Z"


def _consent(n: int, channel: str, address: str, minute: int, **extra: Any) -> dict[str, Any]:
    return consent(id=f"c{n}-{channel}-{minute}", at=_at(minute), channel=channel,
                   address=address, **extra)  # fmt: skip


def _history(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """A realistic mix: most recipients consented by sms, some by confirmed email, some opted
    out later, a few consented to a partner, a fifth have nothing."""
    phone, email = _phone(n), f"user{n}@example.com"
    kind = rng.random()
    records: list[dict[str, Any]] = []
    if kind < 0.8:
        records.append(_consent(n, "sms", phone, 0))
    if kind < 0.3:
        records.append(_consent(n, "email", email, 1))
        records.append(_consent(n, "email", email, 2, action="confirm"))
    if 0.3 <= kind < 0.4:
        records.append(optout(id=f"o{n}", at=_at(3), address=phone))
    if 0.4 <= kind < 0.5:
        records.append(_consent(n, "sms", phone, 4, party=PARTNER))
    return records


def _intent(n: int, rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    channel = "email" if roll < 0.25 else "sms"
    category = "promotional" if roll < 0.75 else rng.choice(("transactional", "legal"))
    body: str | None = rng.choice(EMAIL_BODIES if channel == "email" else SMS_BODIES)
    if category != "promotional":
        body = rng.choice(SERVICE_BODIES)
    return intent(
        id=f"m{n}", at=_at(30), channel=channel,
        address=f"user{n}@example.com" if channel == "email" else _phone(n),
        sender=PARTNER if rng.random() < 0.05 else "company", category=category,
        has_opt_out=category == "promotional", body=body, omit=["body"] if body is None else [],
    )  # fmt: skip


@pytest.fixture(scope="module")
def warm() -> tuple[dict[str, RecipientState], Agreements, list[SendIntent]]:
    rng = random.Random(20260601)
    states: dict[str, RecipientState] = {}
    for n in range(RECIPIENTS):
        for raw in _history(n, rng):
            record = parse_record(raw)
            assert isinstance(record, ConsentRecord | OptOutRecord)
            states[record.address] = apply(states.get(record.address), record, CONFIG)
    agreement = parse_record(partner(id="p1", at=_at(0)))
    assert isinstance(agreement, PartnerRecord)
    agreements = Agreements().apply(agreement)
    intents = []
    for n in range(RECIPIENTS):
        parsed = parse_record(_intent(n, rng))
        assert isinstance(parsed, SendIntent)
        intents.append(parsed)
    return states, agreements, intents


def test_decide_throughput(benchmark: Any, warm: Any) -> None:
    states, agreements, intents = warm
    get = states.get

    def decide_all() -> int:
        allowed = 0
        for item in intents:
            if decide(item, get(item.address), agreements, CONFIG, now=NOW).verdict.allowed:
                allowed += 1
        return allowed

    allowed = benchmark(decide_all)
    assert 0 < allowed < len(intents)
    if benchmark.stats is not None:
        rate = len(intents) / benchmark.stats.stats.mean
        benchmark.extra_info["decisions_per_s"] = round(rate)
        print(
            f"\ndecide(): {rate:,.0f} decisions/s on one core ({allowed} of {len(intents)} allowed)"
        )


def _typical_state(warm: Any) -> RecipientState:
    states: dict[str, RecipientState] = warm[0]
    return max(states.values(), key=lambda s: len(encode_state(s)))


def test_encode_state(benchmark: Any, warm: Any) -> None:
    state = _typical_state(warm)
    data = benchmark(encode_state, state)
    benchmark.extra_info["bytes"] = len(data)


def test_decode_state(benchmark: Any, warm: Any) -> None:
    data = encode_state(_typical_state(warm))
    assert benchmark(decode_state, data) == decode_state(data)


def test_apply_consent(benchmark: Any, warm: Any) -> None:
    state = _typical_state(warm)
    record = parse_record(_consent(1, "sms", _phone(1), 50))
    assert isinstance(record, ConsentRecord)
    benchmark(apply, state, record, CONFIG)


def test_parse_intent(benchmark: Any) -> None:
    raw = _intent(7, random.Random(1))
    benchmark(parse_record, raw)
