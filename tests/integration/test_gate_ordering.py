"""Read your opt-outs, raced: 1000 times, an opt-out is acknowledged and an intent for the same
recipient is produced at once, on another topic. Not one of them may be allowed.

Each recipient first has valid consent (acknowledged and decided before the races start), so an
allow would mean the gate decided the intent without the opt-out: exactly the bug this guards.
"""

from __future__ import annotations

import re

from streams import topics
from tests.gatekit import Gate, gate_settings

RACES = 1000


def number(n: int) -> str:
    return f"+1415{2_000_000 + n:07d}"


def consent(n: int) -> dict:
    return {
        "type": "consent",
        "id": f"c{n}",
        "at": "2026-06-02T15:00:00Z",
        "channel": "sms",
        "address": number(n),
        "party": "company",
        "purpose": "marketing",
        "action": "grant",
        "jurisdiction": "US",
        "evidence": {"source": "web_form"},
    }


def intent(n: int, tag: str) -> dict:
    return {
        "type": "intent",
        "id": f"{tag}{n}",
        "at": "2026-06-02T16:00:00Z",
        "channel": "sms",
        "address": number(n),
        "sender": "company",
        "category": "promotional",
        "has_opt_out": True,
        "jurisdiction": "US",
        "body": "20% off. Reply STOP to opt out.",
    }


def optout(n: int) -> dict:
    return {
        "type": "optout",
        "id": f"o{n}",
        "at": "2026-06-02T15:59:00Z",
        "channel": "sms",
        "address": number(n),
        "party": None,
        "method": "sms_keyword",
        "jurisdiction": "US",
    }


def test_acknowledged_optout_is_applied_to_every_later_intent(kafka_stack, unique_name, tmp_path):
    gate = Gate.start(gate_settings(kafka_stack, unique_name("race"), tmp_path), tmp_path)
    verdicts = gate.reader(topics.VERDICTS)
    try:
        # Consent for everyone, proven in force: a first intent per recipient is allowed.
        for n in range(RACES):
            gate.producer.publish(consent(n), wait=False)
        gate.producer.flush()
        for n in range(RACES):
            gate.producer.publish(intent(n, "before"), wait=False)
        gate.producer.flush()
        verdicts.wait_for_ids([f"before{n}" for n in range(RACES)], timeout=120)
        assert {r["decision"] for r in verdicts.records} == {"allow"}

        # The races: opt-out acknowledged, then the intent produced immediately.
        for n in range(RACES):
            gate.producer.publish(optout(n), wait=True)
            gate.producer.publish(intent(n, "race"), wait=False)
        gate.producer.flush()
        race_ids = {f"race{n}" for n in range(RACES)}
        verdicts.wait_for_ids(race_ids, timeout=180)
        raced = [r for r in verdicts.records if r["id"] in race_ids]
        allowed = [r["id"] for r in raced if r["decision"] == "allow"]
        assert allowed == [], f"{len(allowed)} intents allowed despite an acknowledged opt-out"
        assert {r["reason"] for r in raced} == {"OPTED_OUT"}

        scrape = gate.worker.scrape()
        held = re.search(r"^consentgate_ordering_hold_seconds_count (\S+)$", scrape, re.M)
        assert held is not None and float(held.group(1)) >= 2 * RACES
        timeouts = re.search(r"^consentgate_ordering_timeouts_total (\S+)$", scrape, re.M)
        assert timeouts is not None and float(timeouts.group(1)) == 0
    finally:
        verdicts.close()
        gate.stop()
