"""Late opt-outs through the real broker (issue 15 §5).

A promotional intent at T is allowed on a consent; then an opt-out dated T-1h arrives: exactly
one LATE_OPTOUT violation, keyed by the intent id, naming both records. Another recipient's
opt-out dated after T raises none (the intent after it is denied, so it was applied).
"""

from __future__ import annotations

from typing import Any

from streams import topics
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

PEOPLE = SmsRecipients(6_300_000)
LATE = "LATE_OPTOUT"
T = "2026-06-01T19:00:00Z"  # the builders' intent time (noon in California)


def decided(reader: Any, intent_id: str) -> dict[str, Any]:
    reader.wait_for_ids([intent_id], timeout=60)
    [verdict] = [v for v in reader.records if v["id"] == intent_id]
    return verdict


def test_an_opt_out_dated_before_an_allowed_intent_is_reported_and_counted_once(
    kafka_stack, unique_name, tmp_path
):
    gate = RunningGate.start(
        gate_settings(kafka_stack, unique_name("late-optout"), tmp_path), tmp_path
    )
    verdicts = gate.reader(topics.VERDICTS)
    violations = gate.reader(topics.VIOLATIONS)
    try:
        for n, intent_id in ((0, "m-late"), (1, "m-on-time")):
            gate.producer.publish(PEOPLE.consent(n))
            gate.producer.publish(PEOPLE.intent(intent_id, n))
            verdict = decided(verdicts, intent_id)
            assert (verdict["decision"], verdict["reason"]) == ("allow", "CONSENT_VALID")

        # Recipient 0: an opt-out dated an hour before the intent, produced after its verdict.
        early = {**PEOPLE.optout(0), "id": "o-early", "at": "2026-06-01T18:00:00Z"}
        gate.producer.publish(early)
        violations.wait_for_ids([f"m-late:{LATE}:o-early"], timeout=60)
        # Recipient 1: an opt-out dated after the intent; the next intent shows it was applied.
        later = {**PEOPLE.optout(1), "id": "o-later", "at": "2026-06-01T20:00:00Z"}
        gate.producer.publish(later)
        next_one = {**PEOPLE.intent("m-next", 1), "at": "2026-06-01T21:00:00Z"}
        gate.producer.publish(next_one)
        assert decided(verdicts, "m-next")["reason"] == "OPTED_OUT"
        # The redelivered early opt-out changes no state; its violation is sent again with the
        # same id (a crash may have lost the first) and is not counted again.
        gate.producer.publish(early)
        gate.producer.publish({**PEOPLE.intent("m-after", 0), "at": "2026-06-01T21:00:00Z"})
        assert decided(verdicts, "m-after")["reason"] == "OPTED_OUT"
        violations.poll(3.0)

        late = [v for v in violations.records if v["rule"] == LATE]
        assert [v["id"] for v in late] == [f"m-late:{LATE}:o-early"] * 2
        assert late[0] == late[1]
        violation = late[0]
        assert (violation["intent_id"], violation["optout_id"]) == ("m-late", "o-early")
        assert violation["intent_at"].isoformat() == "2026-06-01T19:00:00+00:00"
        assert violation["optout_at"].isoformat() == "2026-06-01T18:00:00+00:00"
        assert (violation["sender"], violation["channel"], violation["severity"]) == (
            "company", "sms", "medium",
        )  # fmt: skip
        allowed = decided(verdicts, "m-late")
        assert violation["recipient_ref"] == allowed["recipient_ref"] is not None
        assert violation["policy_version"] == allowed["policy_version"]
        scrape = gate.worker.scrape()
        assert "consentgate_late_optouts_total 1.0" in scrape.splitlines()
    finally:
        verdicts.close()
        violations.close()
        gate.stop()
