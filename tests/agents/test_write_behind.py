"""The consent table is written once per batch: one changelog record per changed key."""

from __future__ import annotations

from streams import topics
from streams.runtime.app import WorkerApp
from streams.runtime.stored import decode_stored
from streams.serdes import WireCodec
from tests.agents.test_agents import PHONE, codec, consent, gate_app, intent, put, sent

__all__ = ["codec", "gate_app"]  # the fixtures these tests use, shared with test_agents


async def test_state_change_reaches_table_and_changelog(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    changelog = sent(gate_app).changelog
    assert len(changelog) == 1
    topic, partition, key, value = changelog[0]
    assert topic.endswith("-recipients-changelog") and partition == 0 and key == PHONE.encode()
    assert gate_app.store.get(0, key) == value  # the local table holds what the changelog has
    assert decode_stored(value).state != decode_stored(None).state


async def test_a_duplicate_record_writes_nothing(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    assert len(sent(gate_app).changelog) == 1


async def test_a_decided_intent_stores_its_verdict_memo(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    *_, (_topic, _partition, key, value) = sent(gate_app).changelog
    assert key == PHONE.encode()
    assert decode_stored(value).recall("m1") is not None
