"""Erasure through the real broker (issue 15 §6): a consent and an allowed intent, then the real
`consentgate erase` as a subprocess; a promotional intent is then denied OPTED_OUT naming the
erasure, the ledger holds tombstones for the person's entries and an `erasure` audit entry
without the address, `consentgate audit` shows no consent records, and a worker restarted on an
empty data directory (the table rebuilt from its changelog) still denies."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
import uuid
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streams import topics
from streams.kafka_config import client_config
from streams.settings import environment_of
from tests.builders import optout
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

KEYS = "it1:" + base64.b64encode(b"integration-test-erasure-key!!!!").decode()
PEOPLE = SmsRecipients(6_200_000)
PERSON, OTHER = PEOPLE.phone(0), PEOPLE.phone(1)
TRANSACTIONAL = {"category": "transactional", "has_opt_out": False, "body": "Order 12 shipped."}


def cli(settings: Any, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environment_of(settings)}
    return subprocess.run(
        [sys.executable, "-m", "streams", *argv], env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip


def ledger_records(gate: RunningGate, wanted: set[str], timeout: float = 30.0) -> list[Any]:
    """(key, decoded value or None) of every ledger record, read until every `wanted` key was
    seen with a null value (its tombstone) or the timeout."""
    name = topics.LEDGER.name(gate.settings.topic_prefix)
    consumer = Consumer(client_config(gate.settings, **{"group.id": f"r-{uuid.uuid4().hex}"}))
    partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
    consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in partitions])
    found: list[tuple[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for message in consumer.consume(500, 0.2):
                if message.error():
                    continue
                value = message.value()
                decoded = None if value is None else gate.codec.decode(topics.LEDGER, value)
                found.append((message.key().decode(), decoded))
            if wanted <= {key for key, value in found if value is None}:
                break
    finally:
        consumer.close()
    return found


def verdict(reader: Any, intent_id: str) -> dict[str, Any]:
    reader.wait_for_ids([intent_id], timeout=90)
    [found] = [v for v in reader.records if v["id"] == intent_id]
    return found


def test_erase_keeps_the_person_opted_out_across_a_rebuild(kafka_stack, unique_name, tmp_path):
    settings = gate_settings(kafka_stack, unique_name("erasure"), tmp_path, pseudonym_keys=KEYS)
    gate = RunningGate.start(settings, tmp_path)
    verdicts = gate.reader(topics.VERDICTS)
    try:
        publish = gate.producer.publish
        publish(PEOPLE.consent(0))
        publish(optout(id="o-other", address=OTHER, party="acme"))
        publish(PEOPLE.intent("m1", 0))
        assert verdict(verdicts, "m1")["reason"] == "CONSENT_VALID"
        ledger = gate.reader(topics.LEDGER)
        ledger.wait_for_ids(["consent:c0", "optout:o-other"])
        ledger.close()

        done = cli(settings, "erase", "(415) 620-0000", "--jurisdiction", "US", "--id", "e1",
                   "--requested-by", "it-operator", "--reason", "test", "--json")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert PERSON not in done.stdout and PERSON not in done.stderr
        result = orjson.loads(done.stdout)
        assert result["confirmed"] and result["recipient_ref"].startswith("it1:")
        assert result["ledger_tombstones"] == ["consent:c0"]

        publish(PEOPLE.intent("m2", 0))
        publish({**PEOPLE.intent("m3", 0), **TRANSACTIONAL})
        denied = verdict(verdicts, "m2")
        assert (denied["reason"], denied["optout_id"]) == ("OPTED_OUT", "erasure:e1")
        assert denied["recipient_ref"] == result["recipient_ref"]
        assert verdict(verdicts, "m3")["reason"] == "TRANSACTIONAL"

        records = ledger_records(gate, {"consent:c0"})
        latest = dict(records)
        assert "consent:c0" in latest and latest["consent:c0"] is None, "tombstoned"
        assert latest["optout:o-other"] is not None, "someone else's entry stays"
        audit_entry = latest["erasure:e1"]
        assert audit_entry["kind"] == "erasure" and audit_entry["address"] is None
        assert audit_entry["recipient_ref"] == result["recipient_ref"]
        assert audit_entry["evidence"] == {"requested_by": "it-operator", "reason": "test"}

        shown = cli(settings, "audit", PERSON, "--json")
        assert shown.returncode == 0, shown.stderr
        events = [orjson.loads(line) for line in shown.stdout.splitlines()]
        assert not [e for e in events if e["event"] in ("consent", "optout")]
        assert [e["id"] for e in events if e["event"] == "erasure"] == ["e1"]
        other = cli(settings, "audit", OTHER, "--json")
        assert [orjson.loads(x)["id"] for x in other.stdout.splitlines()] == ["o-other"]

        # The table rebuilt from its changelog alone: the state stays gone, the marker holds.
        assert gate.worker.stop() == 0
        shutil.rmtree(settings.data_dir)
        gate.worker.start()
        publish(PEOPLE.intent("m4", 0))
        rebuilt = verdict(verdicts, "m4")
        assert (rebuilt["reason"], rebuilt["optout_id"]) == ("OPTED_OUT", "erasure:e1")
    finally:
        verdicts.close()
        gate.stop()
