"""`VerdictClient.check` against a real worker: allow, deny, and None when no gate answers."""

from __future__ import annotations

import asyncio

from connectors.verdicts import VerdictClient
from streams.runtime.admin import ensure_topics
from streams.serdes import codec_for
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

PEOPLE = SmsRecipients(3_100_000)


async def test_check_returns_each_intents_own_verdict(kafka_stack, unique_name, tmp_path):
    gate = RunningGate.start(gate_settings(kafka_stack, unique_name("verdict"), tmp_path), tmp_path)
    client = VerdictClient.for_settings(gate.settings, gate.codec)
    try:
        for n in range(20):
            gate.producer.publish(PEOPLE.consent(n), wait=True)
        gate.producer.publish(PEOPLE.optout(1), wait=True)

        allowed = await client.check(PEOPLE.intent("v-allow", 0), timeout=30)
        assert allowed is not None and allowed.id == "v-allow"
        assert (allowed.decision, allowed.reason, allowed.allowed) == (
            "allow",
            "CONSENT_VALID",
            True,
        )

        denied = await client.check(PEOPLE.intent("v-deny", 1), timeout=30)
        assert denied is not None and (denied.decision, denied.reason) == ("deny", "OPTED_OUT")

        # concurrent checks, spread over the partitions, each get their own verdict
        many = await asyncio.gather(
            *(client.check(PEOPLE.intent(f"v-many-{n}", n), timeout=30) for n in range(2, 20))
        )
        assert [v.id if v else None for v in many] == [f"v-many-{n}" for n in range(2, 20)]
        assert {v.decision for v in many if v} == {"allow"}
        assert len({client.partition_of(f"v-many-{n}") for n in range(2, 20)}) > 1

        again = await asyncio.to_thread(client.check_sync, PEOPLE.intent("v-sync", 1), 30)
        assert again is not None and again.reason == "OPTED_OUT"
    finally:
        client.close()
        gate.stop()


def test_no_worker_means_no_verdict(kafka_stack, unique_name, tmp_path):
    settings = gate_settings(kafka_stack, unique_name("noworker"), tmp_path)
    ensure_topics(settings)
    codec = codec_for(settings, register=True)  # what a worker would have done
    with VerdictClient.for_settings(settings, codec) as client:
        assert client.check_sync(PEOPLE.intent("v-nobody", 0), timeout=2.0) is None
