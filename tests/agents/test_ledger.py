"""Issue 15 §1, §2 through the real agents: a ledger entry for every consent, opt-out and
agreement record read, and verdicts and violations that name the records they relied on and the
recipient by pseudonym, never by address."""

from __future__ import annotations

from streams import topics
from streams.policy.pseudonym import Pseudonyms
from streams.runtime.app import WorkerApp
from streams.serdes import WireCodec
from tests.agents.test_agents import codec, decoded, gate_app, put, sent
from tests.builders import PARTNER, PHONE, consent, intent, optout, partner

__all__ = ["codec", "gate_app"]  # the fixtures these tests use, shared with test_agents


def ref_of(ga: WorkerApp, address: str) -> str:
    pseudonyms = ga.gate.pseudonyms
    assert isinstance(pseudonyms, Pseudonyms)
    return pseudonyms.ref(address)


async def test_every_record_read_gets_a_ledger_entry_with_its_evidence(
    gate_app: WorkerApp, codec: WireCodec
) -> None:
    evidence = {"source": "web_form", "ip": "192.0.2.7", "form": "signup-v3"}
    await put(gate_app, codec, "consent", topics.CONSENT, consent(id="g1", evidence=evidence))
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o1"))
    await put(gate_app, codec, "partner", topics.PARTNER, partner(id="p1"), key=PARTNER.encode())
    keys = [key for key, _ in sent(gate_app).of(topics.LEDGER)]
    assert keys == [b"consent:g1", b"optout:o1", b"partner:p1"]
    grant, stop, agreement = decoded(gate_app, codec, topics.LEDGER)
    assert (grant["kind"], grant["record_id"], grant["action"]) == ("consent", "g1", "grant")
    assert grant["evidence"] == evidence and grant["address"] == PHONE
    assert grant["recipient_ref"] == stop["recipient_ref"] == ref_of(gate_app, PHONE)
    assert grant["source_topic"].endswith("consent-events") and grant["source_offset"] >= 0
    assert (stop["method"], stop["party"]) == ("sms_keyword", None)
    assert (agreement["action"], agreement["party"], agreement["address"]) == (
        "signed", PARTNER, None,
    )  # fmt: skip


async def test_a_record_that_changes_nothing_is_still_evidence(
    gate_app: WorkerApp, codec: WireCodec
) -> None:
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o1"))
    await put(gate_app, codec, "consent", topics.CONSENT,
              consent(id="g0", at="2026-06-01T10:00:00Z"))  # fmt: skip
    assert [k for k, _ in sent(gate_app).of(topics.LEDGER)] == [b"optout:o1", b"consent:g0"]


async def test_an_invalid_record_gets_no_ledger_entry(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "consent", topics.CONSENT, consent(id="c1", evidence={"x": "y"}))
    assert sent(gate_app).of(topics.LEDGER) == []


async def test_verdicts_name_the_records_relied_on_and_the_recipient_by_pseudonym(
    gate_app: WorkerApp, codec: WireCodec
) -> None:
    await put(gate_app, codec, "consent", topics.CONSENT, consent(id="g1"))
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    await put(gate_app, codec, "optout", topics.OPTOUT, optout(id="o1"))
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m2"))
    allowed, denied = decoded(gate_app, codec, topics.VERDICTS)
    ref = ref_of(gate_app, PHONE)
    assert (allowed["decision"], allowed["grant_id"], allowed["optout_id"]) == ("allow", "g1", None)
    assert (denied["reason"], denied["optout_id"]) == ("OPTED_OUT", "o1")
    assert allowed["recipient_ref"] == denied["recipient_ref"] == ref
    violations = decoded(gate_app, codec, topics.VIOLATIONS)  # o1 is dated before m1: late
    assert [v["rule"] for v in violations] == ["LATE_OPTOUT", "OPTED_OUT"]
    assert all(v["recipient_ref"] == ref for v in violations)
    for _, value in [*sent(gate_app).of(topics.VERDICTS), *sent(gate_app).of(topics.VIOLATIONS)]:
        assert PHONE.encode() not in value, "never the address"


async def test_a_reprocessed_intent_keeps_its_recipient_ref(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    first, again = decoded(gate_app, codec, topics.VERDICTS)
    assert first["recipient_ref"] == again["recipient_ref"] == ref_of(gate_app, PHONE)
