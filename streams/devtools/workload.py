"""Realistic, reproducible traffic in the contract's JSON form, for the demo, benchmarks and tests.

Recipients in the company's seven countries on every channel; first- and third-party consent with
email double opt-in; about 10% opted out; partner agreements signed and one revoked; intents mixed
as a marketing platform sends them, with a sprinkle of invalid ones. The same seed gives the same
records, so a run can be compared with `consentgate replay` of the same file.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

FIRST_PARTY = "company"
PARTNERS = ("acme-partner", "globex-affiliate", "initech-reseller")
REVOKED_PARTNER = "initech-reseller"
# Noon UTC on a weekday: inside every quiet-hours window of the seven countries' daytime.
BASE_TIME = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)

# (jurisdiction, share, phone number pattern, base): numbers phonenumbers accepts as valid for
# every recipient index below 1,000,000 (pattern.format(base + n)); checked in the unit tests.
COUNTRIES = (
    ("US", 0.40, "+1415{:07d}", 2_000_000),
    ("GB", 0.15, "+447400{:06d}", 0),
    ("IE", 0.10, "+35385{:07d}", 1_000_000),
    ("CA", 0.10, "+1416{:07d}", 2_000_000),
    ("IN", 0.10, "+9198{:08d}", 10_000_000),
    ("CH", 0.10, "+4179{:07d}", 1_000_000),
    ("OM", 0.05, "+9689{:07d}", 1_000_000),
)
CHANNELS = (
    ("email", 0.45),
    ("sms", 0.30),
    ("whatsapp", 0.08),
    ("voice", 0.06),
    ("mms", 0.04),
    ("social_dm", 0.03),
    ("post", 0.02),
    ("fax", 0.02),
)
PROMO_BODIES = {
    "email": "Autumn sale: 20% off everything this week. Unsubscribe: https://example.com/u/{n}",
    "sms": "Members save 15% on data bundles this week. Reply STOP to opt out.",
    "mms": "New arrivals with free delivery this weekend. Reply STOP to opt out.",
    "whatsapp": "Your exclusive offer: 2 months half price. Reply STOP to opt out.",
}
TRANSACTIONAL_BODIES = (
    "Your order {n} has shipped and arrives on Thursday.",
    "Your verification code is {code}.",
    "Receipt for order {n}: payment received, thank you.",
    "Reminder: your appointment is tomorrow at 10:00.",
    "Security notice: your password was changed. If this was not you, contact us.",
)
LEGAL_BODIES = ("Notice: our terms of service change on 1 July.",)


@dataclass(frozen=True, slots=True)
class Recipient:
    channel: str
    address: str
    jurisdiction: str


def _pick(rng: random.Random, weighted: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    roll = rng.random()
    for row in weighted:
        roll -= row[1]
        if roll <= 0:
            return row
    return weighted[-1]


def make_recipients(count: int, seed: int = 7) -> list[Recipient]:
    rng = random.Random(seed)
    found: list[Recipient] = []
    for n in range(count):
        channel = _pick(rng, CHANNELS)[0]
        jurisdiction, _, pattern, base = _pick(rng, COUNTRIES)
        if channel == "email":
            address = f"user{n}@example{n % 97}.com"
        elif channel == "social_dm":
            address = f"@member{n}"
        elif channel == "post":
            address = f"{n} Market Street, Springfield"
        else:
            address = pattern.format(base + n)
        found.append(Recipient(channel, address, jurisdiction))
    return found


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Clock:
    """Strictly increasing record times, a few milliseconds apart."""

    def __init__(self, start: datetime = BASE_TIME) -> None:
        self.now = start

    def tick(self, ms: int = 3) -> str:
        self.now += timedelta(milliseconds=ms)
        return _iso(self.now)


def partner_records(clock: Clock) -> list[dict[str, Any]]:
    records = [
        {
            "type": "partner",
            "id": f"p-{party}",
            "at": clock.tick(),
            "party": party,
            "agreement": "signed",
        }
        for party in PARTNERS
    ]
    records.append(
        {
            "type": "partner",
            "id": f"p-{REVOKED_PARTNER}-revoked",
            "at": clock.tick(),
            "party": REVOKED_PARTNER,
            "agreement": "revoked",
        }
    )
    return records


def consent_records(
    recipients: list[Recipient], clock: Clock, seed: int = 11, optout_share: float = 0.10
) -> Iterator[dict[str, Any]]:
    """Grants (and email confirms) for most recipients; some third-party consent; opt-outs."""
    rng = random.Random(seed)
    for n, r in enumerate(recipients):
        base = {"channel": r.channel, "address": r.address, "jurisdiction": r.jurisdiction}
        roll = rng.random()
        if roll < 0.85:
            party = FIRST_PARTY if rng.random() < 0.8 else rng.choice(PARTNERS)
            yield {
                "type": "consent",
                "id": f"c{n}",
                "at": clock.tick(),
                **base,
                "party": party,
                "purpose": "marketing",
                "action": "grant",
                "evidence": {"source": "web_form", "form_version": "signup-v3"},
            }
            if r.channel == "email" and rng.random() < 0.8:
                yield {
                    "type": "consent",
                    "id": f"c{n}-confirm",
                    "at": clock.tick(),
                    **base,
                    "party": party,
                    "purpose": "marketing",
                    "action": "confirm",
                    "evidence": {"source": "confirmation_link", "token": f"t{n}"},
                }
        if rng.random() < optout_share:
            method = (
                "sms_keyword" if r.channel in {"sms", "mms", "whatsapp"} else "unsubscribe_link"
            )
            yield {
                "type": "optout",
                "id": f"o{n}",
                "at": clock.tick(),
                **base,
                "party": None,
                "method": method,
            }


def intent_records(
    recipients: list[Recipient],
    count: int,
    clock: Clock,
    seed: int = 13,
    invalid_share: float = 0.01,
    id_prefix: str = "m",
) -> Iterator[dict[str, Any]]:
    """About 70% promotional, 20% transactional, 10% legal and opt-out confirmations; ids are
    `id_prefix` and a counter."""
    rng = random.Random(seed)
    for n in range(count):
        r = recipients[rng.randrange(len(recipients))]
        roll = rng.random()
        sender = FIRST_PARTY if rng.random() < 0.85 else rng.choice(PARTNERS)
        record: dict[str, Any] = {
            "type": "intent",
            "id": f"{id_prefix}{n}",
            "at": clock.tick(1),
            "channel": r.channel,
            "address": r.address,
            "sender": sender,
            "jurisdiction": r.jurisdiction,
            "campaign": f"campaign-{n % 12}",
        }
        if roll < 0.70:
            body = PROMO_BODIES.get(r.channel)
            record.update(category="promotional", has_opt_out=rng.random() < 0.97)
            if body:
                record["body"] = body.format(n=n)
        elif roll < 0.90:
            body = rng.choice(TRANSACTIONAL_BODIES).format(n=n, code=100000 + n % 900000)
            record.update(category="transactional", has_opt_out=False, body=body)
        elif roll < 0.97:
            record.update(category="legal", has_opt_out=False, body=LEGAL_BODIES[0])
        else:
            record.update(
                category="optout_confirmation",
                has_opt_out=False,
                body="You are unsubscribed and will get no more marketing messages.",
            )
        if rng.random() < invalid_share:
            if rng.random() < 0.5:
                record["channel"] = "pigeon"
            else:
                record["address"] = "not-an-address"
        yield record


def scenario(
    recipient_count: int, intent_count: int, seed: int = 7
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(state records, intents) of one reproducible run."""
    recipients = make_recipients(recipient_count, seed)
    clock = Clock()
    state = partner_records(clock) + list(consent_records(recipients, clock, seed + 4))
    return state, list(intent_records(recipients, intent_count, clock, seed + 6))
