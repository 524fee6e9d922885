"""Read your opt-outs, raced: 1000 times, an opt-out is acknowledged and an intent for the same
recipient is produced at once, on another topic. Not one of them may be allowed.

Each recipient first has valid consent (acknowledged and decided before the races start), so an
allow would mean the gate decided the intent without the opt-out: exactly the bug this guards.
"""

from __future__ import annotations

import re

from streams import topics
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

RACES = 1000


PEOPLE = SmsRecipients(2_000_000)


def test_acknowledged_optout_is_applied_to_every_later_intent(kafka_stack, unique_name, tmp_path):
    gate = RunningGate.start(gate_settings(kafka_stack, unique_name("race"), tmp_path), tmp_path)
    verdicts = gate.reader(topics.VERDICTS)
    try:
        # Consent for everyone, proven in force: a first intent per recipient is allowed.
        for n in range(RACES):
            gate.producer.publish(PEOPLE.consent(n), wait=False)
        gate.producer.flush()
        for n in range(RACES):
            gate.producer.publish(PEOPLE.intent(f"before{n}", n), wait=False)
        gate.producer.flush()
        verdicts.wait_for_ids([f"before{n}" for n in range(RACES)], timeout=120)
        assert {r["decision"] for r in verdicts.records} == {"allow"}

        # The races: opt-out acknowledged, then the intent produced immediately.
        for n in range(RACES):
            gate.producer.publish(PEOPLE.optout(n), wait=True)
            gate.producer.publish(PEOPLE.intent(f"race{n}", n), wait=False)
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
