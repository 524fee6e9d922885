"""SIGTERM on a worker commits what it decided (issue 13, point 7).

After every intent has its verdict, a SIGTERM must leave the group's committed offsets on
send-intents at the end offsets: a restarted worker then decides nothing twice.
"""

from __future__ import annotations

import json
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from streams import topics
from streams.kafka_config import client_config
from streams.settings import Settings
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

PEOPLE = SmsRecipients(6_200_000)
INTENTS = 3_000


def committed_and_end(settings: Settings, spec: topics.TopicSpec) -> tuple[dict, dict]:
    """The group's committed offset and the end offset of every partition of `spec`."""
    name = spec.name(settings.topic_prefix)
    consumer = Consumer(
        client_config(settings, **{"group.id": settings.app_id, "enable.auto.commit": False})
    )
    try:
        partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
        tps = [TopicPartition(name, p) for p in partitions]
        committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
        end = {p: consumer.get_watermark_offsets(tp, timeout=10)[1] for p, tp in enumerate(tps)}
        return committed, end
    finally:
        consumer.close()


def test_sigterm_commits_what_was_decided(kafka_stack, unique_name, tmp_path):
    gate = RunningGate.start(gate_settings(kafka_stack, unique_name("stop"), tmp_path), tmp_path)
    verdicts = gate.reader(topics.VERDICTS)
    try:
        gate.producer.publish_all((PEOPLE.consent(n) for n in range(300)), wait_each=False)
        ids = [f"m{i}" for i in range(INTENTS)]
        gate.producer.publish_all(
            (PEOPLE.intent(i, n % 300) for n, i in enumerate(ids)), wait_each=False
        )
        verdicts.wait_for_ids(ids, timeout=120)

        started = time.monotonic()
        assert gate.worker.stop() == 0
        stop_s = time.monotonic() - started
        committed, end = committed_and_end(gate.settings, topics.INTENTS)
        print(
            "\n"
            + json.dumps(
                {"clean_stop": {"stop_s": round(stop_s, 2), "committed": committed, "end": end}}
            )
        )
        assert committed == end

        before = len(verdicts.records)
        gate.worker.start()
        probe = f"probe-{uuid.uuid4().hex[:8]}"  # once its verdict is out, the backlog was read
        gate.producer.publish(PEOPLE.intent(probe, 1))
        verdicts.wait_for_ids([probe], timeout=60)
        verdicts.poll(3.0)
        again = [r["id"] for r in verdicts.records[before:] if r["id"] != probe]
        assert again == [], f"{len(again)} intents decided again after a clean stop"
    finally:
        verdicts.close()
        gate.stop()
