"""The gate on Kafka: reused intent ids, repaired opt-outs and records dated after the intent."""

from __future__ import annotations

from streams import topics
from streams.runtime.app import WorkerApp
from streams.serdes import WireCodec
from tests.agents.test_agents import (
    codec,
    consent,
    counted,
    decoded,
    gate_app,
    intent,
    optout,
    put,
)

__all__ = ["codec", "gate_app"]  # the fixtures these tests use, shared with test_agents


async def test_same_id_same_content_repeats_the_first_verdict(
    gate_app: WorkerApp, codec: WireCodec
):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    verdicts = decoded(gate_app, codec, topics.VERDICTS)
    assert [(v["decision"], v["reason"]) for v in verdicts] == [("allow", "CONSENT_VALID")] * 2
    assert decoded(gate_app, codec, topics.DEAD_LETTERS) == []


async def test_a_reused_id_with_other_content_is_denied_and_dead_lettered(
    gate_app: WorkerApp, codec: WireCodec
):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    await put(
        gate_app, codec, "intent", topics.INTENTS, intent(id="m1", body="Other text. Reply STOP")
    )
    first, second = decoded(gate_app, codec, topics.VERDICTS)
    assert (first["decision"], first["reason"]) == ("allow", "CONSENT_VALID")
    assert (second["decision"], second["reason"]) == ("deny", "INVALID_INTENT")
    [letter] = decoded(gate_app, codec, topics.DEAD_LETTERS)
    assert letter["error_class"] == "reused_id" and letter["record_id"] == "m1"


async def test_an_optout_with_an_unreadable_time_is_applied_and_reported(
    gate_app: WorkerApp, codec: WireCodec
):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o-bad", at=None, channel="SMS"))
    [letter] = decoded(gate_app, codec, topics.DEAD_LETTERS)
    assert letter["error_class"] == "repaired" and letter["record_id"] == "o-bad"
    assert counted(gate_app, "consentgate_records_repaired_total", topic="optout-events") == 1
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m2"))
    assert decoded(gate_app, codec, topics.VERDICTS)[-1]["reason"] == "OPTED_OUT"


async def test_a_grant_dated_after_the_intent_does_not_count(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "consent", topics.CONSENT, consent(at="2099-01-01T00:00:00Z"))
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m3"))
    [verdict] = decoded(gate_app, codec, topics.VERDICTS)
    assert (verdict["decision"], verdict["reason"]) == ("deny", "NO_CONSENT")
