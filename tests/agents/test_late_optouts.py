"""Late opt-outs (issue 15 §5) and the verdict memo that finds them, through the real agents with
faust's test context, a memory table and a mock registry."""

from __future__ import annotations

from typing import Any

from connectors.producer import wire_record
from streams import topics
from streams.runtime.app import WorkerApp
from streams.runtime.stored import decode_stored
from streams.serdes import WireCodec
from tests.agents.test_agents import codec, counted, decoded, gate_app, put, sent
from tests.builders import PHONE, consent, intent, optout

__all__ = ["codec", "gate_app"]  # the fixtures these tests use, shared with test_agents

LATE = "LATE_OPTOUT"


def late_ones(ga: WorkerApp, codec: WireCodec) -> list[tuple[bytes | None, dict[str, Any]]]:
    return [
        (key, v)
        for key, value in sent(ga).of(topics.VIOLATIONS)
        if (v := codec.decode(topics.VIOLATIONS, value))["rule"] == LATE
    ]


async def allowed_intent(ga: WorkerApp, codec: WireCodec, intent_id: str = "m1") -> None:
    await put(ga, codec, "consent", topics.CONSENT, consent(id="g1"))
    await put(ga, codec, "intent", topics.INTENTS, intent(id=intent_id))
    assert decoded(ga, codec, topics.VERDICTS)[-1]["decision"] == "allow"


async def test_an_opt_out_dated_before_an_allowed_intent_files_one_violation(
    gate_app: WorkerApp, codec: WireCodec
) -> None:
    assert counted(gate_app, "consentgate_late_optouts_total") == 0  # there from the start
    await allowed_intent(gate_app, codec)
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o1"))  # 18:30, intent 19:00
    [(key, violation)] = late_ones(gate_app, codec)
    assert key == b"m1"
    assert violation["id"] == "m1:LATE_OPTOUT:o1" and violation["intent_id"] == "m1"
    assert (violation["optout_id"], violation["sender"], violation["channel"]) == (
        "o1", "company", "sms",
    )  # fmt: skip
    assert violation["optout_at"].isoformat() == "2026-06-01T18:30:00+00:00"
    assert violation["intent_at"].isoformat() == "2026-06-01T19:00:00+00:00"
    assert violation["severity"] == "medium" and violation["reasons"] == [LATE]
    assert violation["recipient_ref"] is not None and PHONE not in str(violation)
    assert counted(gate_app, "consentgate_late_optouts_total") == 1
    assert counted(gate_app, "consentgate_violations_total", rule=LATE, sender_kind="first_party")


async def test_a_redelivered_opt_out_sends_the_same_violation_again_uncounted(
    gate_app: WorkerApp, codec: WireCodec
) -> None:
    # Redelivered after a crash that lost the violation but not the state change: it must be
    # sent again, with the same id, and counted once.
    await allowed_intent(gate_app, codec)
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o1"))
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o1"))  # redelivered
    assert [v["id"] for _, v in late_ones(gate_app, codec)] == ["m1:LATE_OPTOUT:o1"] * 2
    assert counted(gate_app, "consentgate_late_optouts_total") == 1


async def test_an_opt_out_dated_after_the_intent_files_nothing(
    gate_app: WorkerApp, codec: WireCodec
) -> None:
    await allowed_intent(gate_app, codec)
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o2", at="2026-06-01T20:00:00Z"))
    assert late_ones(gate_app, codec) == []
    assert counted(gate_app, "consentgate_late_optouts_total") == 0


async def test_an_opt_out_from_another_party_or_channel_files_nothing(
    gate_app: WorkerApp, codec: WireCodec
) -> None:
    await allowed_intent(gate_app, codec)
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o1", party="acme-partner"))
    email = optout(id="o2", channel="email")
    await put(gate_app, codec, "optout", topics.OPTOUT, email, key=email["address"].encode())
    assert late_ones(gate_app, codec) == []


async def test_a_complaint_dated_before_the_intent_is_a_late_opt_out(
    gate_app: WorkerApp, codec: WireCodec
) -> None:
    await allowed_intent(gate_app, codec)
    complaint = {  # on voice: in the US one opt-out covers calls and texts
        "type": "complaint", "id": "k1", "at": "2026-06-01T18:00:00Z", "channel": "voice",
        "address": PHONE, "party": None, "jurisdiction": "US", "text": "Stop calling me",
    }  # fmt: skip
    value = codec.encode(topics.COMPLAINTS, wire_record(complaint))
    async with gate_app.agents["complaint"].test_context() as context:
        await context.put(key=PHONE.encode(), value=value)
    [(key, violation)] = late_ones(gate_app, codec)
    assert key == b"m1" and violation["id"] == "m1:LATE_OPTOUT:k1"


async def test_a_reprocessed_intent_gets_its_verdict_field_for_field(
    gate_app: WorkerApp, codec: WireCodec
) -> None:
    await allowed_intent(gate_app, codec)
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o1"))
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))  # after a crash
    first, again = decoded(gate_app, codec, topics.VERDICTS)
    assert again == first
    assert (again["grant_id"], again["category"], again["sender"]) == (
        "g1",
        "promotional",
        "company",
    )
    assert again["rules_evaluated"] and again["intent_at"] is not None
    stored = decode_stored(gate_app.store.get(0, PHONE.encode()))
    entry = stored.recall("m1")
    assert entry is not None and entry.repeats_exactly


async def test_a_memo_that_does_not_read_never_costs_the_opt_out(
    gate_app: WorkerApp, codec: WireCodec
) -> None:
    await allowed_intent(gate_app, codec)
    key = PHONE.encode()
    value = gate_app.store.get(0, key)
    assert value is not None
    # The same value with an entry whose time is not a number (read only when asked for).
    broken = value.replace(b'"m1","allow"', b'"m1","allow","CONSENT_VALID",null,"x"],["m0","allow"')
    gate_app.store.put(0, key, broken)
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o1"))
    assert decode_stored(gate_app.store.get(0, key)).state.optouts  # applied
    assert sent(gate_app).of(topics.DEAD_LETTERS) == [] and late_ones(gate_app, codec) == []
    assert counted(gate_app, "consentgate_processing_errors_total", topic="optout-events") == 1
