"""The complaint agents (issue 15 §4) with faust's test context, a memory table and a mock
registry: a complaint is an opt-out and is forwarded by id; acks close it; the overdue check
sends one violation per complaint, marks it only once Kafka has it, and never sends it twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.producer import wire_record
from streams import topics
from streams.runtime.app import WorkerApp, create_app
from streams.runtime.complaints import ComplaintTracker, open_envelope
from streams.runtime.gate import Inbound
from streams.runtime.outputs import RecordingOutputs
from streams.serdes import WireCodec
from streams.settings import Settings
from tests.agents.test_agents import FixedHold, counted, decoded, put, sent
from tests.builders import PHONE, consent, intent, mock_codec

RECEIVED = "2026-05-15T14:00:00Z"  # a Friday; overdue from Sat 23 May 04:00 UTC (New York)
DEADLINE_MS = int(datetime(2026, 5, 23, 4, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def codec() -> WireCodec:
    return mock_codec()


@pytest.fixture
def gate_app(codec: WireCodec, tmp_path: Any) -> Iterator[WorkerApp]:
    settings = Settings().replace(
        app_id=f"complaints-{uuid.uuid4().hex[:8]}", store="memory://", data_dir=tmp_path
    )
    ga = create_app(
        settings, partitions=1, partner_partitions=1, codec=codec, with_web_metrics=False,
        outputs=RecordingOutputs(),
    )  # fmt: skip
    ga.ordering = FixedHold()  # type: ignore[assignment]
    tracker(ga).ready = lambda: True
    tracker(ga).wall_ms = lambda: DEADLINE_MS - 1  # wall time just before the deadline
    yield ga


def tracker(ga: WorkerApp) -> ComplaintTracker:
    found = ga.complaints  # type: ignore[attr-defined]
    assert isinstance(found, ComplaintTracker)
    return found


def a_complaint(**fields: Any) -> dict[str, Any]:
    return {
        "type": "complaint", "id": "k1", "at": RECEIVED, "channel": "sms", "address": PHONE,
        "party": None, "jurisdiction": "US", "text": "stop it", **fields,
    }  # fmt: skip


async def complain(ga: WorkerApp, codec: WireCodec, **fields: Any) -> None:
    """A complaint through the complaint agent (broker time: its `at`), then what it forwarded
    through the tracker."""
    record = a_complaint(**fields)
    stamp = datetime.fromisoformat(record["at"]).timestamp()
    before = len(sent(ga).of(topics.COMPLAINTS_OPEN))
    value = codec.encode(topics.COMPLAINTS, wire_record(record))
    async with ga.agents["complaint"].test_context() as context:
        await context.put(key=PHONE.encode(), value=value, timestamp=stamp)
    for key, forwarded in sent(ga).of(topics.COMPLAINTS_OPEN)[before:]:
        assert key is not None
        track(ga, forwarded, key, ga.names[topics.COMPLAINTS_OPEN.base], stamp)


def track(ga: WorkerApp, value: bytes, key: bytes, topic_name: str, stamp: float) -> None:
    """One record through the tracker as its agent handles a batch (faust's test context
    cannot name which of the agent's two topics a record came from)."""
    msg = Inbound(topic_name, 0, 0, key, value, stamp)
    with ga.outputs.batch(lambda: None):
        tracker(ga).track(msg)
        tracker(ga).store.flush()
        tracker(ga).check()


def ack(ga: WorkerApp, codec: WireCodec, at: str, key: bytes = b"k1") -> None:
    value = codec.encode(topics.COMPLAINT_ACKS, {"id": "a1", "complaint_id": "k1", "at": at})
    stamp = datetime.fromisoformat(at).timestamp()
    track(ga, value, key, ga.names[topics.COMPLAINT_ACKS.base], stamp)


def overdue_violations(ga: WorkerApp, codec: WireCodec) -> list[dict[str, Any]]:
    return [
        v for v in decoded(ga, codec, topics.VIOLATIONS) if v["rule"] == "COMPLAINT_ACK_OVERDUE"
    ]


def check(ga: WorkerApp) -> int:
    with ga.outputs.batch(lambda: None):
        return tracker(ga).check()


async def test_a_complaint_is_an_opt_out_and_is_forwarded_by_id(
    gate_app: WorkerApp, codec: WireCodec
):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    await complain(gate_app, codec, at="2026-06-01T18:00:00Z")
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    [verdict] = decoded(gate_app, codec, topics.VERDICTS)
    assert verdict["reason"] == "OPTED_OUT"
    [(key, value)] = sent(gate_app).of(topics.COMPLAINTS_OPEN)
    forwarded = codec.decode(topics.COMPLAINTS_OPEN, value)
    assert key == b"k1" and forwarded["text"] is None and forwarded["address"] == PHONE
    assert counted(gate_app, "consentgate_optouts_total", channel="sms", method="complaint") == 1
    assert counted(gate_app, "consentgate_complaints_total", channel="sms") == 1


async def test_one_violation_at_the_deadline_and_never_again(gate_app: WorkerApp, codec: WireCodec):
    await complain(gate_app, codec)
    assert overdue_violations(gate_app, codec) == []
    assert counted(gate_app, "consentgate_complaints_open") == 1
    tracker(gate_app).wall_ms = lambda: DEADLINE_MS
    assert check(gate_app) == 1
    [violation] = overdue_violations(gate_app, codec)
    assert violation["id"] == "k1:COMPLAINT_ACK_OVERDUE" and violation["complaint_id"] == "k1"
    assert violation["deadline"] == datetime.fromtimestamp(DEADLINE_MS / 1000, UTC)
    assert check(gate_app) == 0
    await complain(gate_app, codec)  # redelivered: changes nothing
    assert check(gate_app) == 0
    assert len(overdue_violations(gate_app, codec)) == 1
    assert counted(gate_app, "consentgate_complaint_acks_overdue_total") == 1
    assert counted(gate_app, "consentgate_complaints_open") == 0
    # The mark is in the table and its changelog, so a rebuilt worker does not send it again.
    [(_, _, _, value)] = [c for c in sent(gate_app).changelog if c[2] == b"k1"][-1:]
    assert open_envelope(value)[1].violated


async def test_record_time_reaches_the_deadline_before_wall_time(
    gate_app: WorkerApp, codec: WireCodec
):
    await complain(gate_app, codec)
    tracker(gate_app).record_clock_ms = DEADLINE_MS + 1000  # a later broker timestamp seen
    assert check(gate_app) == 1


async def test_an_ack_in_time_closes_the_complaint(gate_app: WorkerApp, codec: WireCodec):
    await complain(gate_app, codec)
    ack(gate_app, codec, "2026-05-22T12:00:00Z")
    tracker(gate_app).wall_ms = lambda: DEADLINE_MS + 10**9
    assert check(gate_app) == 0 and overdue_violations(gate_app, codec) == []


async def test_an_ack_before_the_complaint_still_counts(gate_app: WorkerApp, codec: WireCodec):
    ack(gate_app, codec, "2026-05-16T12:00:00Z")
    await complain(gate_app, codec)
    tracker(gate_app).wall_ms = lambda: DEADLINE_MS + 10**9
    assert check(gate_app) == 0


async def test_a_late_ack_does_not_excuse_it(gate_app: WorkerApp, codec: WireCodec):
    await complain(gate_app, codec)
    # Its broker time is the deadline: record time reaches it, the batch sends the violation.
    ack(gate_app, codec, "2026-05-23T04:00:00Z")
    assert len(overdue_violations(gate_app, codec)) == 1
    tracker(gate_app).wall_ms = lambda: DEADLINE_MS + 10**9
    assert check(gate_app) == 0


async def test_a_violation_kafka_has_not_acknowledged_is_not_marked_nor_sent_twice(
    gate_app: WorkerApp, codec: WireCodec
):
    await complain(gate_app, codec)
    held: list[Any] = []
    outputs = sent(gate_app)
    original = outputs.send

    def send_without_ack(spec: Any, key: Any, value: Any, on_ack: Any = None) -> None:
        held.append(on_ack)
        original(spec, key, value)

    outputs.send = send_without_ack  # type: ignore[method-assign]
    tracker(gate_app).wall_ms = lambda: DEADLINE_MS
    assert check(gate_app) == 1
    entry = open_envelope(tracker(gate_app).store.get(0, b"k1") or b"")[1]
    assert not entry.violated  # not yet: Kafka has not acknowledged the violation
    assert check(gate_app) == 0  # in flight: not sent again
    held[-1](0.0)  # Kafka acknowledges: the mark is written at once, and to the changelog
    assert open_envelope(tracker(gate_app).store.get(0, b"k1") or b"")[1].violated
    (_, _, _, value) = [c for c in sent(gate_app).changelog if c[2] == b"k1"][-1]
    assert open_envelope(value)[1].violated
    outputs.send = original  # type: ignore[method-assign]
    assert check(gate_app) == 0


async def test_misrouted_and_bad_records_are_handled(gate_app: WorkerApp, codec: WireCodec):
    value = codec.encode(topics.COMPLAINTS, wire_record(a_complaint()))
    async with gate_app.agents["complaint"].test_context() as context:
        await context.put(key=b"wrong-key", value=value, timestamp=1.0)
    assert [k for k, _ in sent(gate_app).of(topics.COMPLAINTS)] == [PHONE.encode()]
    ack(gate_app, codec, "2026-05-16T12:00:00Z", key=b"not-k1")
    assert [k for k, _ in sent(gate_app).of(topics.COMPLAINT_ACKS)] == [b"k1"]
    bad_ack = codec.encode(topics.COMPLAINT_ACKS, {"id": "a2", "complaint_id": "k1", "at": None})
    track(gate_app, bad_ack, b"k1", gate_app.names[topics.COMPLAINT_ACKS.base], 0.0)
    async with gate_app.agents["complaint"].test_context() as context:
        await context.put(key=PHONE.encode(), value=b"not avro", timestamp=1.0)
    letters = decoded(gate_app, codec, topics.DEAD_LETTERS)
    assert [letter["error_class"] for letter in letters] == ["invalid_record", "wire_header"]
