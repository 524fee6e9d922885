"""Delivery reconciliation through the real broker (issue 15 §5).

Consents and intents through a real worker (two allowed, one denied, one allowed whose report
comes on the wrong partition), then delivery reports through the reference producer (keyed by
the intent id): the allowed one to its recipient (nothing filed), the denied one
(SENT_AFTER_DENY), one for an intent id the gate never saw (SENT_WITHOUT_ALLOW once the short
wait passes), one to another address than the intent's (SENT_WITHOUT_ALLOW), and one produced on
a partition murmur2 does not give (re-sent by the reconciler, then judged: nothing filed). The
violations are exactly those three, once each, with their fields; `consentgate violations`
exports them with both pseudonyms.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from connectors.partitioning import partition_for
from connectors.producer import producer_config
from streams import topics
from streams.cli import main
from streams.kafka_config import security_config
from streams.policy.deliveries import IntentOutcome, decode_outcome
from streams.policy.pseudonym import Pseudonyms, parse_keys
from streams.settings import environment_of
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

PEOPLE = SmsRecipients(6_700_000)
KEYS = "dl1:" + base64.b64encode(b"delivery-test-pseudonym-key-32b!").decode()
REFS = Pseudonyms(parse_keys(KEYS))
INTENT_AT = datetime(2026, 6, 1, 19, 0, tzinfo=UTC)  # tests.builders.intent's `at`
SENT_AT = INTENT_AT + timedelta(seconds=30)
PARTNER = "acme-partner"


def delivery(intent_id: str, address: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "delivery", "id": f"d-{intent_id}", "intent_id": intent_id,
        "at": "2026-06-01T19:00:30Z", "channel": "sms", "address": address, **fields,
    }  # fmt: skip


def national(phone: str) -> str:
    """+14156700000 as (415) 670-0000: the same recipient, written otherwise."""
    return f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"


def metric(gate: RunningGate, family: str, **labels: str) -> float:
    """The running worker's `family` summed over the series carrying `labels`."""
    total = 0.0
    for line in gate.worker.scrape().splitlines():
        if line.startswith(family + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def produce_on_partition(gate: RunningGate, record: dict[str, Any], partition: int) -> None:
    """`record` keyed by its intent id but on an explicit partition (another partitioner)."""
    spec, key, value = gate.producer.encode(record)
    settings = gate.settings
    producer = Producer(
        producer_config(settings.kafka_bootstrap_servers, security=security_config(settings))
    )
    errors: list[str] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            errors.append(str(error))
        elif message.partition() != partition:
            errors.append(f"landed on {message.partition()}")

    producer.produce(
        spec.name(settings.topic_prefix), value, key.encode(), partition=partition,
        on_delivery=delivered,
    )  # fmt: skip
    assert producer.flush(30) == 0 and errors == []


def test_deliveries_are_reconciled_with_their_verdicts(
    kafka_stack, unique_name, tmp_path, monkeypatch, capsys
):
    settings = gate_settings(
        kafka_stack, unique_name("deliveries"), tmp_path, pseudonym_keys=KEYS,
        delivery_wait=timedelta(seconds=3),
    )  # fmt: skip
    gate = RunningGate.start(settings, tmp_path)
    verdicts = gate.reader(topics.VERDICTS)
    violations = gate.reader(topics.VIOLATIONS)
    publish = gate.producer.publish
    ok, denied, other, stranger, moved, unknown_to_gate = (PEOPLE.phone(n) for n in range(6))
    try:
        for n in (0, 2, 4):  # `denied` (1) has no consent
            publish(PEOPLE.consent(n))
        intents = {"m-ok": 0, "m-deny": 1, "m-else": 2, "m-moved": 4}
        for intent_id, n in intents.items():
            publish(PEOPLE.intent(intent_id, n))
        verdicts.wait_for_ids(intents, timeout=60)
        decisions = {v["id"]: v["decision"] for v in verdicts.records}
        assert decisions == {"m-ok": "allow", "m-deny": "deny", "m-else": "allow",
                             "m-moved": "allow"}  # fmt: skip
        for record, headers in zip(verdicts.records, verdicts.headers, strict=True):
            # what the reconciler reads instead of the value, through Kafka as it was sent
            assert [decode_outcome(v) for k, v in headers if k == topics.OUTCOME_HEADER] == [
                IntentOutcome.of(record)
            ]

        publish(delivery("m-ok", national(ok), jurisdiction="US"))  # its recipient: fine
        publish(delivery("m-deny", denied))
        publish(delivery("m-else", stranger))  # allowed for `other`, sent to someone else
        murmur2 = partition_for(b"m-moved", settings.partitions)
        produce_on_partition(gate, delivery("m-moved", moved), (murmur2 + 1) % settings.partitions)
        publish(delivery("m-ghost", unknown_to_gate, sender=PARTNER))  # never decided

        wanted = {"m-deny:SENT_AFTER_DENY", "m-else:SENT_WITHOUT_ALLOW",
                  "m-ghost:SENT_WITHOUT_ALLOW"}  # fmt: skip
        violations.wait_for_ids(wanted, timeout=90)
        wait_until(
            lambda: metric(gate, "consentgate_deliveries_reconciled_total", outcome="OK") >= 2,
            60, "m-ok and the re-sent m-moved to be judged OK",
        )  # fmt: skip
        violations.poll(3.0)
        filed = [v for v in violations.records if v["rule"].startswith("SENT_")]
        assert sorted(v["id"] for v in filed) == sorted(wanted), "exactly these, once each"
        by_id = {v["id"]: v for v in filed}

        after_deny = by_id["m-deny:SENT_AFTER_DENY"]
        assert (after_deny["intent_id"], after_deny["rule"], after_deny["severity"]) == (
            "m-deny", "SENT_AFTER_DENY", "critical",
        )  # fmt: skip
        assert (after_deny["sender"], after_deny["channel"]) == ("company", "sms")
        assert after_deny["recipient_ref"] == REFS.ref(denied)
        assert after_deny["delivered_ref"] == after_deny["recipient_ref"]
        assert after_deny["intent_at"] == INTENT_AT
        assert after_deny["delivered_at"] == SENT_AT == after_deny["at"]

        elsewhere = by_id["m-else:SENT_WITHOUT_ALLOW"]
        assert (elsewhere["intent_id"], elsewhere["sender"]) == ("m-else", "company")
        assert elsewhere["recipient_ref"] == REFS.ref(other)
        assert elsewhere["delivered_ref"] == REFS.ref(stranger)
        assert (elsewhere["intent_at"], elsewhere["delivered_at"]) == (INTENT_AT, SENT_AT)

        unknown = by_id["m-ghost:SENT_WITHOUT_ALLOW"]
        assert (unknown["intent_id"], unknown["sender"]) == ("m-ghost", PARTNER)
        assert (unknown["recipient_ref"], unknown["intent_at"]) == (None, None)
        assert unknown["delivered_ref"] == REFS.ref(unknown_to_gate)
        assert unknown["delivered_at"] == SENT_AT

        # Only the report on the wrong partition was re-sent: the producer keys by intent id.
        rerouted = metric(gate, "consentgate_records_applied_total",
                          topic="deliveries", kind="reroute")  # fmt: skip
        assert rerouted == 1
        family = "consentgate_delivery_violations_total"
        counted = {
            (rule, kind): metric(gate, family, rule=rule, sender_kind=kind)
            for rule in ("SENT_WITHOUT_ALLOW", "SENT_AFTER_DENY")
            for kind in ("first_party", "third_party", "unknown")
        }
        assert {k: v for k, v in counted.items() if v} == {
            ("SENT_AFTER_DENY", "first_party"): 1,
            ("SENT_WITHOUT_ALLOW", "first_party"): 1,
            ("SENT_WITHOUT_ALLOW", "third_party"): 1,
        }
        assert metric(gate, "consentgate_deliveries_pending") == 0

        exported = run_cli(monkeypatch, capsys, settings, "violations", "--rule",
                           "SENT_WITHOUT_ALLOW", "--json")  # fmt: skip
        rows = {r["id"]: r for r in map(orjson.loads, exported.splitlines())}
        assert sorted(rows) == ["m-else:SENT_WITHOUT_ALLOW", "m-ghost:SENT_WITHOUT_ALLOW"]
        row = rows["m-else:SENT_WITHOUT_ALLOW"]
        assert (row["recipient_ref"], row["delivered_ref"]) == (
            REFS.ref(other), REFS.ref(stranger),
        )  # fmt: skip
        assert row["intent_at"] == "2026-06-01T19:00:00.000Z"
        assert row["delivered_at"] == "2026-06-01T19:00:30.000Z"
    finally:
        verdicts.close()
        violations.close()
        gate.stop()


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: Any, settings: Any, *argv: str) -> str:
    for name, value in environment_of(settings).items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(list(argv)) == 0
    out: str = capsys.readouterr().out
    return out
