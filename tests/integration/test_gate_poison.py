"""Fail closed on bad input: poison records mixed with good ones on every input topic.

Every good intent is decided, every bad record is dead-lettered with where it came from, an invalid
intent whose id is readable is denied INVALID_INTENT, and the worker keeps running throughout.
"""

from __future__ import annotations

import struct
from typing import Any

from confluent_kafka import Producer

from connectors.producer import producer_config, wire_record
from streams import topics
from tests.builders import optout
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

GOOD = 60


PEOPLE = SmsRecipients(3_000_000)


def good_consent(n: int) -> dict[str, Any]:
    return wire_record(PEOPLE.consent(n))


def good_intent(n: int) -> dict[str, Any]:
    return wire_record(PEOPLE.intent(f"m{n}", n))


def test_poison_is_dead_lettered_and_good_records_are_decided(kafka_stack, unique_name, tmp_path):
    gate = RunningGate.start(gate_settings(kafka_stack, unique_name("poison"), tmp_path), tmp_path)
    prefix = gate.settings.topic_prefix
    raw = Producer(producer_config(gate.settings.kafka_bootstrap_servers))
    codec = gate.codec
    verdicts, letters = gate.reader(topics.VERDICTS), gate.reader(topics.DEAD_LETTERS)

    def send(spec: topics.TopicSpec, key: str, value: bytes) -> None:
        raw.produce(spec.name(prefix), key=key.encode(), value=value)

    unknown_id = b"\x00" + struct.pack(">I", 987_654) + b"\x02\x04ab"
    consent_bytes = codec.encode(topics.CONSENT, good_consent(0))
    poison: dict[str, list[tuple[str, bytes]]] = {
        topics.CONSENT.base: [
            ("k", b"plain text, no wire header"),
            ("k", b"\x01" + consent_bytes[1:]),  # wrong magic byte
            ("k", unknown_id),
            ("k", consent_bytes + b"\x00"),  # trailing byte
            ("k", codec.encode(topics.CONSENT, {**good_consent(1), "evidence": {"form": "x"}})),
            ("k", codec.encode(topics.CONSENT, {**good_consent(2), "address": "not-a-number"})),
        ],
        topics.OPTOUT.base: [
            ("k", b"\x00\x00"),
            (
                "k",
                codec.encode(
                    topics.OPTOUT,
                    wire_record(optout(id="o-bad", address="12")),
                ),
            ),
        ],
        topics.PARTNER.base: [("acme", b"\x00\x00\x00\x00\x00")],
        topics.INTENTS.base: [
            ("k", b"garbage without any id"),
            ("k", codec.encode(topics.INTENTS, {**good_intent(900), "channel": "pigeon"})),
            ("k", codec.encode(topics.INTENTS, {**good_intent(901), "category": None})),
        ],
    }
    try:
        for n in range(GOOD):
            if n % 10 == 0:  # interleave poison with the good records
                for spec in topics.INPUTS:
                    for key, value in poison[spec.base][n // 10 : n // 10 + 1]:
                        send(spec, key, value)
            gate.producer.publish(PEOPLE.consent(n), wait=False)
        gate.producer.flush()
        for spec in topics.INPUTS:
            for key, value in poison[spec.base][GOOD // 10 :]:
                send(spec, key, value)
        raw.flush(30)
        for n in range(GOOD):
            gate.producer.publish(PEOPLE.intent(f"m{n}", n), wait=False)
        # A misrouted intent: keyed by the address as written, re-routed and decided.
        misrouted = {**good_intent(GOOD), "address": "+1 (415) 300-0000"}
        gate.producer.publish_encoded(
            topics.INTENTS, "+1 (415) 300-0000", codec.encode(topics.INTENTS, misrouted), wait=True
        )
        gate.producer.flush()

        good_ids = [f"m{n}" for n in range(GOOD)] + [f"m{GOOD}"]
        verdicts.wait_for_ids([*good_ids, "m900", "m901"], timeout=90)
        by_id = {v["id"]: v for v in verdicts.records}
        assert all(by_id[i]["decision"] == "allow" for i in good_ids), [
            (i, by_id[i]["reason"]) for i in good_ids if by_id[i]["decision"] != "allow"
        ]
        assert by_id["m900"]["reason"] == by_id["m901"]["reason"] == "INVALID_INTENT"

        expected = sum(len(v) for v in poison.values())
        letters.wait_for_count(expected, timeout=60)
        letters.poll(1.0)
        assert len(letters.records) == expected
        by_topic: dict[str, int] = {}
        for letter in letters.records:
            base = letter["source_topic"].removeprefix(prefix)
            by_topic[base] = by_topic.get(base, 0) + 1
            assert letter["source_offset"] is not None and letter["source_partition"] is not None
            assert letter["error"] and letter["error_class"]
        assert by_topic == {base: len(records) for base, records in poison.items()}
        classes = {letter["error_class"] for letter in letters.records}
        assert {"wire_header", "unknown_schema", "trailing_bytes", "invalid_record"} <= classes
        assert {letter["record_id"] for letter in letters.records} >= {"m900", "m901", "c1"}
        raw_values = {letter["value"] for letter in letters.records}
        assert b"garbage without any id" in raw_values
        assert gate.worker.alive()
    finally:
        verdicts.close()
        letters.close()
        gate.stop()
