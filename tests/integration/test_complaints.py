"""Complaints through the real broker (issue 15 §4).

- A complaint is an opt-out: a promotional intent after it is denied OPTED_OUT.
- A complaint whose deadline wall time has passed raises its violation with nothing else arriving
  (a quiet topic); one acknowledged in time raises none.
- A worker restart between a deadline and the check: a complaint is tracked before its
  deadline, the worker stops, the deadline passes by record time (an ack stamped just after it:
  Kafka takes timestamps at most `log.message.timestamp.after.max.ms`, one hour by default,
  ahead, so the complaint's `timezone` and date are picked to put its deadline within the next
  55 minutes); the restarted worker sends exactly one violation, and after another restart, with
  record time pushed past the deadline again, still exactly one.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from confluent_kafka import Producer

from connectors.producer import producer_config
from streams import topics
from streams.kafka_config import security_config
from streams.policy.business_days import deadline
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

PEOPLE = SmsRecipients(6_100_000)
OVERDUE = "COMPLAINT_ACK_OVERDUE"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def complaint(cid: str, n: int, at: datetime) -> dict[str, Any]:
    return {
        "id": cid, "at": iso(at), "channel": "sms", "address": PEOPLE.phone(n), "party": None,
        "jurisdiction": "US", "text": "stop sending me offers", "region": None, "timezone": None,
    }  # fmt: skip


class Sender:
    """Raw records with a chosen broker timestamp (the producer's CreateTime)."""

    def __init__(self, gate: RunningGate) -> None:
        self.gate = gate
        settings = gate.settings  # murmur2, as every producer must (connectors/producer.py)
        self.producer = Producer(
            producer_config(settings.kafka_bootstrap_servers, security=security_config(settings))
        )

    def send(
        self, spec: topics.TopicSpec, key: str, record: dict[str, Any], stamp: datetime
    ) -> None:
        value = self.gate.codec.encode(spec, record)
        errors: list[str] = []

        def delivered(error: Any, message: Any) -> None:
            if error is not None:
                errors.append(str(error))

        self.producer.produce(
            spec.name(self.gate.settings.topic_prefix), value, key.encode(),
            timestamp=int(stamp.timestamp() * 1000), on_delivery=delivered,
        )  # fmt: skip
        assert self.producer.flush(30) == 0 and errors == []


def overdue_by_complaint(reader: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in reader.records:
        if record["rule"] == OVERDUE:
            counts[record["complaint_id"]] = counts.get(record["complaint_id"], 0) + 1
    return counts


def applied(gate: RunningGate, topic: str, kind: str) -> float:
    """consentgate_records_applied_total{topic, kind, outcome="applied"} of the running worker."""
    total = 0.0
    for line in gate.worker.scrape().splitlines():
        if line.startswith("consentgate_records_applied_total{") and all(
            f'{label}="{value}"' in line
            for label, value in (("topic", topic), ("kind", kind), ("outcome", "applied"))
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def acks_applied(gate: RunningGate) -> float:
    return applied(gate, topics.COMPLAINT_ACKS.base, "complaint_ack")


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def soon_due(now: datetime) -> tuple[datetime, str, str, datetime] | None:
    """A past receipt time, a country and an IANA zone whose deadline falls 30 s to 55 minutes
    from `now` (None from 30 s before a whole hour to 5 minutes after it, when there is none;
    not further: the broker refuses record timestamps more than an hour ahead, and the test
    stamps one just after the deadline). The day ending
    there must be a business day: between them the countries work every day of the week (US
    Mon-Fri, OM Sun-Thu, HK Mon-Sat, BN all but Fri and Sun). Etc/GMT zones put a local midnight
    at every whole UTC hour; half-hour zones fill in near the hour."""
    zones = [f"Etc/GMT{sign}{n}" for n in range(1, 13) for sign in "+-"] + [
        "Etc/GMT-13", "Etc/GMT-14", "Etc/UTC", "Asia/Kolkata", "America/St_Johns",
        "Asia/Tehran", "Australia/Adelaide", "Asia/Kathmandu", "Pacific/Marquesas",
    ]  # fmt: skip
    for country in ("US", "OM", "HK", "BN"):
        for zone in zones:
            local = now.astimezone(ZoneInfo(zone))
            for days_back in range(3, 16):
                at = (local - timedelta(days=days_back)).replace(hour=12, minute=0, second=0)
                due = deadline(at.astimezone(UTC), country, None, zone)
                if now + timedelta(seconds=30) < due < now + timedelta(minutes=55):
                    return at.astimezone(UTC), country, zone, due
    return None


def test_complaints_opt_out_and_raise_one_violation_across_restarts(
    kafka_stack, unique_name, tmp_path
):
    gate = RunningGate.start(
        gate_settings(kafka_stack, unique_name("complaints"), tmp_path), tmp_path
    )
    verdicts = gate.reader(topics.VERDICTS)
    violations = gate.reader(topics.VIOLATIONS)
    sender = Sender(gate)
    now = datetime.now(UTC)
    try:
        # 1. An opt-out: the consent first, then the complaint, then an intent.
        gate.producer.publish(PEOPLE.consent(0))
        old = now - timedelta(days=30)  # its deadline passed long ago, by wall time
        sender.send(topics.COMPLAINTS, PEOPLE.phone(0), complaint("k-old", 0, old), now)
        acked = complaint("k-acked", 1, old)
        sender.send(topics.COMPLAINTS, PEOPLE.phone(1), acked, now)
        ack = {"id": "a1", "complaint_id": "k-acked", "at": iso(old + timedelta(days=1))}
        sender.send(topics.COMPLAINT_ACKS, "k-acked", ack, now)
        wait_until(lambda: acks_applied(gate) >= 1, 60, "the ack to be applied")
        # Complaints are not among the partitions an intent waits for (read your opt-outs covers
        # optout-events): wait until the complaints are applied.
        wait_until(
            lambda: applied(gate, topics.COMPLAINTS.base, "complaint") >= 2, 60, "the complaints"
        )
        gate.producer.publish(PEOPLE.intent("m1", 0))
        verdicts.wait_for_ids(["m1"], timeout=60)
        [verdict] = [v for v in verdicts.records if v["id"] == "m1"]
        assert verdict["reason"] == "OPTED_OUT"

        # 2. The quiet topic: wall time alone raises k-old's violation, never k-acked's.
        violations.wait_for_ids(["k-old"], timeout=60, key="complaint_id")
        [first] = [v for v in violations.records if v.get("complaint_id") == "k-old"]
        assert first["id"] == f"k-old:{OVERDUE}" and first["severity"] == "high"
        assert first["deadline"] > old

        # 3. A complaint due within the hour is tracked; the worker stops before its deadline.
        found = soon_due(datetime.now(UTC))
        for _ in range(14):  # from H:59:30 to H+1:05 there is none: wait it out
            if found is not None:
                break
            time.sleep(30)
            found = soon_due(datetime.now(UTC))
        assert found is not None, "no deadline within the next 55 minutes"
        at, country, zone, due = found
        fresh = {**complaint("k-new", 2, at), "jurisdiction": country, "timezone": zone}
        sender.send(topics.COMPLAINTS, PEOPLE.phone(2), fresh, datetime.now(UTC))
        wait_until(lambda: complaints_tracked(gate) >= 3, 60, "k-new to be tracked")
        assert gate.worker.stop() == 0
        assert "k-new" not in overdue_by_complaint(violations)
        # The deadline passes by record time while no worker runs.
        stamp = due + timedelta(seconds=1)
        other = {"id": "a2", "complaint_id": "k-other", "at": iso(stamp)}
        sender.send(topics.COMPLAINT_ACKS, "k-other", other, stamp)
        gate.worker.start()
        violations.wait_for_ids(["k-new"], timeout=90, key="complaint_id")
        [late] = [v for v in violations.records if v.get("complaint_id") == "k-new"]
        assert late["deadline"] == due

        # 4. Restart again and push record time past the deadlines once more: nothing repeats.
        assert gate.worker.stop() == 0
        gate.worker.start()
        third = {"id": "a3", "complaint_id": "k-third", "at": iso(stamp)}
        sender.send(topics.COMPLAINT_ACKS, "k-third", third, stamp + timedelta(seconds=1))
        wait_until(lambda: acks_applied(gate) >= 1, 60, "the third ack to be applied")
        violations.poll(5.0)
        assert overdue_by_complaint(violations) == {"k-old": 1, "k-new": 1}
    finally:
        verdicts.close()
        violations.close()
        gate.stop()


def complaints_tracked(gate: RunningGate) -> float:
    """consentgate_complaints_total of the running worker, every channel."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in gate.worker.scrape().splitlines()
        if line.startswith("consentgate_complaints_total{")
    )
