"""The erasure agent (issue 15 §6) with faust's test context, a memory table and a mock
registry: a request removes the recipient's table value (a changelog tombstone), keeps the
marker under the pseudonym, writes the audit entry without the address, and later intents are
decided as erased; a request that does not read erases nothing."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from streams import topics
from streams.policy.erasure import ErasureMarker, decode_marker, encode_marker, marker_key
from streams.policy.pseudonym import Pseudonyms, parse_keys
from streams.runtime import erasure
from streams.runtime.app import WorkerApp, create_app
from streams.runtime.outputs import RecordingOutputs
from streams.runtime.statestore import MappingStore
from streams.serdes import WireCodec
from streams.settings import Settings
from tests.agents.test_agents import FixedHold, counted, decoded, put, sent
from tests.builders import PHONE, consent, intent, mock_codec

OLD = "old:" + base64.b64encode(b"o" * 32).decode()
NEW = "new:" + base64.b64encode(b"n" * 32).decode()
TRANSACTIONAL = {"category": "transactional", "has_opt_out": False, "body": "Order 12 shipped."}


@pytest.fixture
def codec() -> WireCodec:
    return mock_codec()


@pytest.fixture
def gate_app(codec: WireCodec, tmp_path: Any) -> Iterator[WorkerApp]:
    settings = Settings().replace(
        app_id=f"erasure-{uuid.uuid4().hex[:8]}", store="memory://", data_dir=tmp_path,
        pseudonym_keys=NEW,
    )  # fmt: skip
    ga = create_app(
        settings, partitions=1, partner_partitions=1, codec=codec, with_web_metrics=False,
        outputs=RecordingOutputs(),
    )  # fmt: skip
    ga.ordering = FixedHold()  # type: ignore[assignment]
    yield ga


def request(**fields: Any) -> dict[str, Any]:
    return {
        "id": "e1", "at": "2026-06-01T19:30:00Z", "address": PHONE, "channel": "sms",
        "jurisdiction": "US", "requested_by": "dpo-7", "reason": "ticket 4411", **fields,
    }  # fmt: skip


def ref(address: str = PHONE) -> str:
    return Pseudonyms(parse_keys(NEW)).ref(address)


async def test_an_erasure_removes_the_state_keeps_the_marker_and_audits(
    gate_app: WorkerApp, codec: WireCodec
):
    await put(gate_app, codec, "consent", topics.CONSENT, consent(id="g1"))
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    assert gate_app.store.get(0, PHONE.encode()) is not None
    await put(gate_app, codec, "erasure", topics.ERASURES, request())

    assert gate_app.store.get(0, PHONE.encode()) is None
    marker = decode_marker(gate_app.store.get(0, marker_key(ref())) or b"")
    assert marker.request_id == "e1"
    changelog = {key: value for _, _, key, value in sent(gate_app).changelog}
    assert changelog[PHONE.encode()] is None, "a tombstone, so a rebuild never sees the state"
    assert changelog[marker_key(ref())] is not None
    [audit] = [e for e in decoded(gate_app, codec, topics.LEDGER) if e["kind"] == "erasure"]
    assert (audit["id"], audit["record_id"], audit["recipient_ref"]) == ("erasure:e1", "e1", ref())
    assert audit["address"] is None and audit["action"] == "erase"
    assert audit["evidence"] == {"requested_by": "dpo-7", "reason": "ticket 4411"}
    assert PHONE.encode() not in codec.encode(topics.LEDGER, audit)
    assert counted(gate_app, "consentgate_erasures_total") == 1

    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m2"))
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m3", **TRANSACTIONAL))
    verdicts = {v["id"]: v for v in decoded(gate_app, codec, topics.VERDICTS)}
    assert (verdicts["m1"]["decision"], verdicts["m1"]["reason"]) == ("allow", "CONSENT_VALID")
    assert (verdicts["m2"]["reason"], verdicts["m2"]["optout_id"]) == ("OPTED_OUT", "erasure:e1")
    assert (verdicts["m3"]["decision"], verdicts["m3"]["reason"]) == ("allow", "TRANSACTIONAL")


async def test_verdicts_after_an_erasure_still_name_the_recipient_by_pseudonym(
    gate_app: WorkerApp, codec: WireCodec
):
    """The erased view is decided with the same pseudonym as any other (and never the address)."""
    await put(gate_app, codec, "erasure", topics.ERASURES, request())
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m2", **TRANSACTIONAL))
    verdicts = decoded(gate_app, codec, topics.VERDICTS)
    assert [(v["reason"], v["recipient_ref"]) for v in verdicts] == [
        ("OPTED_OUT", ref()), ("TRANSACTIONAL", ref())
    ]  # fmt: skip


async def test_a_new_grant_after_the_erasure_counts(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "erasure", topics.ERASURES, request(at="2026-06-01T12:00:00Z"))
    await put(gate_app, codec, "consent", topics.CONSENT, consent(id="g2"))  # 17:00Z
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    [verdict] = decoded(gate_app, codec, topics.VERDICTS)
    assert (verdict["reason"], verdict["grant_id"]) == ("CONSENT_VALID", "g2")


@pytest.mark.parametrize(
    "changes", [{"address": "+1415555\u200b0101"}, {"address": "4155550101", "jurisdiction": None}]
)
async def test_a_request_that_does_not_read_erases_nothing(
    gate_app: WorkerApp, codec: WireCodec, changes: dict[str, Any]
):
    await put(gate_app, codec, "consent", topics.CONSENT, consent(id="g1"))
    await put(gate_app, codec, "erasure", topics.ERASURES, request(**changes))
    [letter] = decoded(gate_app, codec, topics.DEAD_LETTERS)
    assert (letter["error_class"], letter["record_id"]) == ("invalid_record", "e1")
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    [verdict] = decoded(gate_app, codec, topics.VERDICTS)
    assert verdict["reason"] == "CONSENT_VALID"
    assert counted(gate_app, "consentgate_erasures_total") == 0


async def test_a_misrouted_request_is_rerouted_before_anything_is_erased(
    gate_app: WorkerApp, codec: WireCodec
):
    await put(gate_app, codec, "consent", topics.CONSENT, consent(id="g1"))
    raw = request(address="(415) 555-0101")
    await put(gate_app, codec, "erasure", topics.ERASURES, raw, key=b"(415) 555-0101")
    [(key, _)] = sent(gate_app).of(topics.ERASURES)
    assert key == PHONE.encode()
    assert gate_app.store.get(0, PHONE.encode()) is not None


def test_a_marker_under_an_older_key_still_counts_and_moves_to_the_current_key() -> None:
    store = MappingStore({})
    old_ref = Pseudonyms(parse_keys(OLD)).ref(PHONE)
    marker = ErasureMarker(1, "e0")
    store.put(0, marker_key(old_ref), encode_marker(marker))
    rotated = Pseudonyms(parse_keys(f"{NEW},{OLD}"))
    assert erasure.lookup(store, 0, PHONE, rotated) == marker
    assert decode_marker(store.get(0, marker_key(ref())) or b"") == marker
    assert erasure.lookup(store, 0, "+14155550102", rotated) is None
    assert erasure.lookup(store, 0, PHONE, None) is None
