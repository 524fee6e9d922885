"""The delivery reconciler (issue 15 §5) with faust's test context, a memory table and a mock
registry: the gate's own verdicts and delivery reports meet by intent id; violations are sent
once, marked only once Kafka has them; a report without verdict waits; misrouted reports are
re-sent; old entries are swept with a tombstone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams import topics
from streams.policy.deliveries import IntentOutcome, decode_entry, decode_outcome
from streams.runtime.app import WorkerApp, create_app
from streams.runtime.deliveries import SWEEP_INTERVAL_S, DeliveryReconciler
from streams.runtime.gate import Inbound
from streams.runtime.outputs import RecordingOutputs
from streams.serdes import WireCodec
from streams.settings import Settings
from tests.agents.test_agents import FixedHold, counted, decoded, put, sent
from tests.builders import PHONE, consent, intent, mock_codec

AT = datetime(2026, 6, 1, 19, 0, tzinfo=UTC)
WALL_MS = int(AT.timestamp() * 1000)
WAIT = timedelta(minutes=5)


@pytest.fixture
def codec() -> WireCodec:
    return mock_codec()


@pytest.fixture
def gate_app(codec: WireCodec, tmp_path: Any) -> Iterator[WorkerApp]:
    settings = Settings().replace(
        app_id=f"deliveries-{uuid.uuid4().hex[:8]}", store="memory://", data_dir=tmp_path,
        partitions=1, delivery_wait=WAIT,
    )  # fmt: skip
    ga = create_app(
        settings, partitions=1, partner_partitions=1, codec=codec, with_web_metrics=False,
        outputs=RecordingOutputs(),
    )  # fmt: skip
    ga.ordering = FixedHold()  # type: ignore[assignment]
    reconciler(ga).ready = lambda: True
    reconciler(ga).wall_ms = lambda: WALL_MS
    yield ga


def reconciler(ga: WorkerApp) -> DeliveryReconciler:
    found = ga.deliveries  # type: ignore[attr-defined]
    assert isinstance(found, DeliveryReconciler)
    return found


def feed(
    ga: WorkerApp, topic: str, key: bytes, value: bytes, stamp: float, p: int = 0,
    headers: Any = None,
) -> int:  # fmt: skip
    """One record through the reconciler as its agent handles a batch (faust's test context
    cannot name which of the agent's two topics a record came from)."""
    with ga.outputs.batch(lambda: None):
        reconciler(ga).handle(Inbound(topic, p, 0, key, value, stamp, headers))
        reconciler(ga).store.flush()
        return reconciler(ga).check()


async def decide(ga: WorkerApp, codec: WireCodec, intent_id: str, *, allowed: bool) -> None:
    """An intent through the gate, then its verdict (as the gate sent it) to the reconciler."""
    if allowed:
        await put(ga, codec, "consent", topics.CONSENT, consent(id=f"c-{intent_id}"))
    before = len(sent(ga).of(topics.VERDICTS))
    record = intent(id=intent_id)
    if not allowed:
        record["address"] = "+14155550188"  # nobody's consent
    await put(ga, codec, "intent", topics.INTENTS, record, key=record["address"].encode())
    for key, value, headers in verdicts_sent(ga)[before:]:
        assert key is not None
        feed(ga, ga.names[topics.VERDICTS.base], key, value, AT.timestamp(), headers=headers)


def verdicts_sent(ga: WorkerApp) -> list[tuple[bytes | None, bytes, Any]]:
    """(key, value, headers) of every verdict the gate sent, in order."""
    outputs = sent(ga)
    return [(key, value, headers) for (base, key, value), headers
            in zip(outputs.sent, outputs.headers, strict=True)
            if base == topics.VERDICTS.base]  # fmt: skip


def deliver(
    ga: WorkerApp, codec: WireCodec, intent_id: str, *, key: bytes | None = None,
    stamp: float | None = None, **fields: Any,
) -> int:  # fmt: skip
    record = {
        "id": f"d-{intent_id}", "intent_id": intent_id, "at": AT + timedelta(seconds=5),
        "channel": "sms", "address": PHONE, **fields,
    }  # fmt: skip
    value = codec.encode(topics.DELIVERIES, record)
    name = ga.names[topics.DELIVERIES.base]
    when = AT.timestamp() + 5 if stamp is None else stamp
    return feed(ga, name, intent_id.encode() if key is None else key, value, when)


def delivery_violations(ga: WorkerApp, codec: WireCodec) -> list[dict[str, Any]]:
    return [v for v in decoded(ga, codec, topics.VIOLATIONS) if v["rule"].startswith("SENT_")]


def test_the_worker_records_the_offsets_of_every_table(gate_app: WorkerApp) -> None:
    # Shutdown, revocation and the timer record the changelog offsets of each of these.
    stores = gate_app.stores
    assert stores[0] is gate_app.store and reconciler(gate_app).store in stores
    assert gate_app.complaints.store in stores  # type: ignore[attr-defined]
    assert len({id(store) for store in stores}) == len(stores) == 3


async def test_an_allowed_intent_delivered_to_its_recipient_is_fine(
    gate_app: WorkerApp, codec: WireCodec
):
    await decide(gate_app, codec, "m1", allowed=True)
    assert deliver(gate_app, codec, "m1", address="(415) 555-0101", jurisdiction="US") == 0
    assert deliver(gate_app, codec, "m1") == 0  # a retried report of the same delivery
    assert delivery_violations(gate_app, codec) == []
    assert counted(gate_app, "consentgate_deliveries_reconciled_total", outcome="OK") == 1


async def test_a_denied_intent_delivered_is_sent_after_deny_once(
    gate_app: WorkerApp, codec: WireCodec
):
    await decide(gate_app, codec, "m2", allowed=False)
    assert deliver(gate_app, codec, "m2", address="+14155550188", sender="company") == 1
    assert deliver(gate_app, codec, "m2", address="+14155550188") == 0  # the same again
    [v] = delivery_violations(gate_app, codec)
    assert (v["id"], v["rule"], v["severity"], v["sender"]) == (
        "m2:SENT_AFTER_DENY", "SENT_AFTER_DENY", "critical", "company",
    )  # fmt: skip
    assert v["intent_at"] is not None and v["delivered_at"] == AT + timedelta(seconds=5)
    assert v["recipient_ref"] and v["delivered_ref"] == v["recipient_ref"]
    keys = [k for k, val in sent(gate_app).of(topics.VIOLATIONS)
            if codec.decode(topics.VIOLATIONS, val)["rule"] == "SENT_AFTER_DENY"]  # fmt: skip
    assert keys == [b"m2"]
    labels = {"rule": "SENT_AFTER_DENY", "sender_kind": "first_party"}
    assert counted(gate_app, "consentgate_delivery_violations_total", **labels) == 1
    entry = decode_entry(reconciler(gate_app).store.get(0, b"m2") or b"")[1]
    assert entry.violated == ("SENT_AFTER_DENY",)


async def test_another_address_or_channel_is_sent_without_allow(
    gate_app: WorkerApp, codec: WireCodec
):
    await decide(gate_app, codec, "m3", allowed=True)
    assert deliver(gate_app, codec, "m3", address="+14155550199") == 1
    [v] = delivery_violations(gate_app, codec)
    assert v["rule"] == "SENT_WITHOUT_ALLOW" and v["delivered_ref"] != v["recipient_ref"]
    await decide(gate_app, codec, "m4", allowed=True)
    assert deliver(gate_app, codec, "m4", channel="whatsapp") == 1
    assert [v["id"] for v in delivery_violations(gate_app, codec)][-1] == "m4:SENT_WITHOUT_ALLOW"


async def test_a_delivery_waits_for_its_verdict(gate_app: WorkerApp, codec: WireCodec):
    assert deliver(gate_app, codec, "m5", stamp=AT.timestamp() - 60) == 0  # no verdict yet
    assert counted(gate_app, "consentgate_deliveries_pending") == 1
    await decide(gate_app, codec, "m5", allowed=True)  # comes in time, and allows
    assert delivery_violations(gate_app, codec) == []
    assert counted(gate_app, "consentgate_deliveries_pending") == 0


async def test_a_delivery_held_is_filed_when_its_denying_verdict_comes(
    gate_app: WorkerApp, codec: WireCodec
):
    assert deliver(gate_app, codec, "m7", address="+14155550188") == 0  # no verdict yet
    await decide(gate_app, codec, "m7", allowed=False)
    assert [v["id"] for v in delivery_violations(gate_app, codec)] == ["m7:SENT_AFTER_DENY"]
    assert counted(gate_app, "consentgate_deliveries_pending") == 0


async def test_a_verdict_alone_leaves_nothing_to_check(gate_app: WorkerApp, codec: WireCodec):
    """Only a delivery can owe a violation: a verdict with none held is stored, not checked."""
    await put(gate_app, codec, "consent", topics.CONSENT, consent(id="c-m8"))
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m8"), key=PHONE.encode())
    [(key, value)] = sent(gate_app).of(topics.VERDICTS)
    name = gate_app.names[topics.VERDICTS.base]
    with gate_app.outputs.batch(lambda: None):
        reconciler(gate_app).handle(Inbound(name, 0, 0, key, value, AT.timestamp()))
        assert reconciler(gate_app).touched == {}
        reconciler(gate_app).store.flush()
    entry = decode_entry(reconciler(gate_app).store.get(0, b"m8") or b"")[1]
    assert entry.outcome is not None and entry.outcome.allowed and entry.deliveries == ()
    assert deliver(gate_app, codec, "m8") == 0  # then its delivery is judged, and fine
    assert counted(gate_app, "consentgate_deliveries_reconciled_total", outcome="OK") == 1


async def test_the_reconciler_reads_a_verdict_s_outcome_header_not_its_value(
    gate_app: WorkerApp, codec: WireCodec
):
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="h1"), key=PHONE.encode())
    [(key, value, headers)] = verdicts_sent(gate_app)
    decoded = codec.decode(topics.VERDICTS, value)
    assert [name for name, _ in headers] == [topics.OUTCOME_HEADER]
    assert decode_outcome(headers[0][1]) == IntentOutcome.of(decoded)  # what the value says
    assert key is not None and decoded["decision"] == "deny"
    name = gate_app.names[topics.VERDICTS.base]
    feed(gate_app, name, key, b"\x00not avro", AT.timestamp(), headers=headers)
    entry = decode_entry(reconciler(gate_app).store.get(0, key) or b"")[1]
    assert entry.outcome == IntentOutcome.of(decoded)  # the unreadable value was never decoded


@pytest.mark.parametrize("header", [None, b"[1, 2]", b"\xff"])
async def test_a_verdict_without_a_readable_outcome_header_is_decoded(
    gate_app: WorkerApp, codec: WireCodec, header: bytes | None
):
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="h2"), key=PHONE.encode())
    [(key, value, _)] = verdicts_sent(gate_app)
    headers = None if header is None else [(topics.OUTCOME_HEADER, header)]
    assert key is not None
    feed(gate_app, gate_app.names[topics.VERDICTS.base], key, value, AT.timestamp(),
         headers=headers)  # fmt: skip
    entry = decode_entry(reconciler(gate_app).store.get(0, key) or b"")[1]
    assert entry.outcome == IntentOutcome.of(codec.decode(topics.VERDICTS, value))


async def test_a_delivery_without_verdict_is_filed_after_the_wait(
    gate_app: WorkerApp, codec: WireCodec
):
    assert deliver(gate_app, codec, "ghost", sender="acme-partner") == 0
    with gate_app.outputs.batch(lambda: None):
        assert reconciler(gate_app).check() == 0  # the wait is not over
    reconciler(gate_app).wall_ms = lambda: WALL_MS + int(WAIT.total_seconds() * 1000)
    with gate_app.outputs.batch(lambda: None):
        assert reconciler(gate_app).check() == 1
        assert reconciler(gate_app).check() == 0
    [v] = delivery_violations(gate_app, codec)
    assert (v["id"], v["sender"], v["intent_at"], v["recipient_ref"]) == (
        "ghost:SENT_WITHOUT_ALLOW", "acme-partner", None, None,
    )  # fmt: skip
    labels = {"rule": "SENT_WITHOUT_ALLOW", "sender_kind": "third_party"}
    assert counted(gate_app, "consentgate_delivery_violations_total", **labels) == 1


async def test_verdict_record_time_ends_the_wait(gate_app: WorkerApp, codec: WireCodec):
    deliver(gate_app, codec, "late", stamp=AT.timestamp() - 600)
    await decide(gate_app, codec, "other", allowed=True)  # verdicts 10 min later: none for it
    assert [v["id"] for v in delivery_violations(gate_app, codec)] == ["late:SENT_WITHOUT_ALLOW"]


async def test_a_violation_kafka_has_not_acknowledged_is_not_marked_nor_sent_twice(
    gate_app: WorkerApp, codec: WireCodec
):
    await decide(gate_app, codec, "m6", allowed=False)
    held: list[Any] = []
    outputs = sent(gate_app)
    original = outputs.send

    def send_without_ack(
        spec: Any, key: Any, value: Any, on_ack: Any = None, headers: Any = None
    ) -> None:
        held.append(on_ack)
        original(spec, key, value, None, headers)

    outputs.send = send_without_ack  # type: ignore[method-assign]
    assert deliver(gate_app, codec, "m6", address="+14155550188") == 1
    entry = decode_entry(reconciler(gate_app).store.get(0, b"m6") or b"")[1]
    assert entry.violated == ()
    with gate_app.outputs.batch(lambda: None):
        reconciler(gate_app).touched[b"m6"] = 0
        assert reconciler(gate_app).check() == 0  # in flight
    held[-1](0.0)
    entry = decode_entry(reconciler(gate_app).store.get(0, b"m6") or b"")[1]
    assert entry.violated == ("SENT_AFTER_DENY",)
    (_, _, _, value) = [c for c in sent(gate_app).changelog if c[2] == b"m6"][-1]
    assert value is not None and decode_entry(value)[1].violated == ("SENT_AFTER_DENY",)
    outputs.send = original  # type: ignore[method-assign]


async def test_misrouted_and_bad_reports_are_handled(gate_app: WorkerApp, codec: WireCodec):
    assert deliver(gate_app, codec, "m7", key=b"+14155550101") == 0
    assert [k for k, _ in sent(gate_app).of(topics.DELIVERIES)] == [b"m7"]
    name = gate_app.names[topics.DELIVERIES.base]
    bad = codec.encode(topics.DELIVERIES, {"id": "d9", "intent_id": None, "channel": "sms",
                                           "address": PHONE})  # fmt: skip
    feed(gate_app, name, b"x", bad, 1.0)
    feed(gate_app, name, b"x", b"not avro", 1.0)
    repaired = codec.encode(topics.DELIVERIES, {"id": "d8", "intent_id": "m8", "channel": "SMS",
                                                "address": PHONE})  # fmt: skip
    feed(gate_app, name, b"m8", repaired, AT.timestamp())
    letters = decoded(gate_app, codec, topics.DEAD_LETTERS)
    assert [x["error_class"] for x in letters] == ["invalid_record", "wire_header", "repaired"]
    entry = decode_entry(reconciler(gate_app).store.get(0, b"m8") or b"")[1]
    assert entry.deliveries[0].at_ms == int(AT.timestamp() * 1000)  # `at` null: received


async def test_the_sweep_tombstones_old_entries_and_keeps_waiting_ones(
    gate_app: WorkerApp, codec: WireCodec
):
    await decide(gate_app, codec, "old", allowed=True)
    deliver(gate_app, codec, "wait", stamp=AT.timestamp())
    week = int(gate_app.settings.delivery_retention.total_seconds() * 1000)
    reconciler(gate_app).wall_ms = lambda: WALL_MS + week  # `wait` is filed first
    with gate_app.outputs.batch(lambda: None):
        reconciler(gate_app).check()
        assert reconciler(gate_app).sweep() == 2
    tombstones = [c[2] for c in sent(gate_app).changelog if c[3] is None]
    assert sorted(tombstones) == [b"old", b"wait"]
    assert reconciler(gate_app).store.get(0, b"old") is None


async def test_the_timer_sweeps_in_slices_and_waits_its_interval_between_passes(
    gate_app: WorkerApp, codec: WireCodec
):
    for name in ("a", "b", "c"):
        await decide(gate_app, codec, name, allowed=True)
    deliver(gate_app, codec, "wait", stamp=AT.timestamp())
    week = int(gate_app.settings.delivery_retention.total_seconds() * 1000)
    rec = reconciler(gate_app)
    clock = [WALL_MS + week]
    rec.wall_ms = lambda: clock[0]
    rec.waiting.clear()  # as after a restart: only a pass finds the waiting report again
    steps = []
    with gate_app.outputs.batch(lambda: None):
        while not steps or steps[-1] is None:
            steps.append(rec.sweep_step(limit=1))
    assert steps[:-1] == [None] * (len(steps) - 1) and len(steps) >= 4  # one entry a step
    assert steps[-1] == 3 and rec.indexed
    assert list(rec.waiting) == [b"wait"]  # indexed, not deleted
    assert {c[2] for c in sent(gate_app).changelog if c[3] is None} == {b"a", b"b", b"c"}
    with gate_app.outputs.batch(lambda: None):
        assert rec.sweep_step() is None  # the next pass waits for SWEEP_INTERVAL_S
        clock[0] += int(SWEEP_INTERVAL_S * 1000)
        assert rec.sweep_step() == 0  # and then runs: nothing left to delete
