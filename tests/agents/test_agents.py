"""Agent tests: the real faust agents, run with `test_context()`, a memory table, a mock registry.

What is faked: the Kafka transport (faust's test context), the registry (confluent-kafka's mock)
and the output sink (records what would be sent). What is real: the agents, the table, the gate,
the codec with all its checks, the decision core.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.producer import wire_record
from streams import topics
from streams.runtime.app import WorkerApp, create_app
from streams.runtime.gate import DEAD_LETTER_LOG_BURST, DEAD_LETTER_LOG_WINDOW_S
from streams.runtime.ordering import HoldResult
from streams.runtime.outputs import RecordingOutputs
from streams.serdes import WireCodec
from streams.settings import Settings
from tests.builders import PHONE, consent, intent, mock_codec, optout


class FixedHold:
    """Stands in for the ordering gate (tested on its own): always caught up, or never."""

    def __init__(self, caught_up: bool = True) -> None:
        self.caught_up = caught_up
        self.calls: list[list[Any]] = []

    async def hold(self, needed: list[Any]) -> HoldResult:
        self.calls.append(needed)
        return HoldResult(self.caught_up, 0.0)


@pytest.fixture
def codec() -> WireCodec:
    return mock_codec()


@pytest.fixture
def gate_app(codec: WireCodec, tmp_path: Any) -> Iterator[WorkerApp]:
    settings = Settings().replace(
        app_id=f"agents-{uuid.uuid4().hex[:8]}", store="memory://", data_dir=tmp_path
    )
    ga = create_app(
        settings,
        partitions=1,
        partner_partitions=1,
        codec=codec,
        with_web_metrics=False,
        outputs=RecordingOutputs(),
    )
    ga.ordering = FixedHold()  # type: ignore[assignment]
    yield ga


def sent(ga: WorkerApp) -> RecordingOutputs:
    outputs = ga.gate.outputs
    assert isinstance(outputs, RecordingOutputs)
    return outputs


def decoded(ga: WorkerApp, codec: WireCodec, spec: topics.TopicSpec) -> list[dict[str, Any]]:
    return [codec.decode(spec, value) for _, value in sent(ga).of(spec)]


def counted(ga: WorkerApp, name: str, **labels: str) -> float | None:
    """A metric's value as the worker's registry exports it (None: never observed)."""
    return ga.metrics.registry.get_sample_value(name, labels)


async def put(
    ga: WorkerApp,
    codec: WireCodec,
    agent: str,
    spec: topics.TopicSpec,
    record: dict[str, Any] | bytes,
    key: bytes = PHONE.encode(),
) -> None:
    value = record if isinstance(record, bytes) else codec.encode(spec, wire_record(record))
    async with ga.agents[agent].test_context() as context:
        await context.put(key=key, value=value)


async def test_consent_then_promotional_intent_is_allowed(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1"))
    verdicts = decoded(gate_app, codec, topics.VERDICTS)
    assert [(v["id"], v["decision"], v["reason"]) for v in verdicts] == [
        ("m1", "allow", "CONSENT_VALID")
    ]
    assert sent(gate_app).of(topics.VIOLATIONS) == []
    allowed = {"decision": "allow", "reason": "CONSENT_VALID", "channel": "sms"}
    assert counted(gate_app, "consentgate_verdicts_total", **allowed) == 1


async def test_opt_out_denies_and_files_a_violation(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    await put(gate_app, codec, "optout", topics.OPTOUT, optout())
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m2"))
    [verdict] = decoded(gate_app, codec, topics.VERDICTS)
    assert (verdict["decision"], verdict["reason"]) == ("deny", "OPTED_OUT")
    [violation] = decoded(gate_app, codec, topics.VIOLATIONS)
    assert (violation["intent_id"], violation["rule"], violation["severity"]) == (
        "m2",
        "OPTED_OUT",
        "critical",
    )
    assert counted(gate_app, "consentgate_optouts_total", channel="sms", method="sms_keyword") == 1


async def test_poison_state_record_is_dead_lettered_and_the_agent_goes_on(
    gate_app: WorkerApp, codec: WireCodec
):
    await put(gate_app, codec, "consent", topics.CONSENT, b"\x00\x00\x00\x00\x07garbage")
    await put(gate_app, codec, "consent", topics.CONSENT, b"not avro at all")
    await put(gate_app, codec, "consent", topics.CONSENT, consent(id="c1", evidence={"form": "x"}))
    await put(gate_app, codec, "consent", topics.CONSENT, consent(id="c2"))
    letters = decoded(gate_app, codec, topics.DEAD_LETTERS)
    assert [letter["error_class"] for letter in letters] == [
        "unknown_schema",
        "wire_header",
        "invalid_record",
    ]
    assert all(letter["source_topic"] == "consent-events" for letter in letters)
    assert [letter["source_offset"] for letter in letters] == [0, 0, 0]
    assert letters[1]["value"] == b"not avro at all"
    assert letters[2]["record_id"] == "c1"
    # The good record after the poison ones was applied: a promotional intent is allowed.
    await put(gate_app, codec, "intent", topics.INTENTS, intent())
    [verdict] = decoded(gate_app, codec, topics.VERDICTS)
    assert verdict["decision"] == "allow"


async def test_invalid_intent_with_readable_id_is_denied_and_dead_lettered(
    gate_app: WorkerApp, codec: WireCodec
):
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m1", channel="pigeon"))
    await put(gate_app, codec, "intent", topics.INTENTS, b"\x00\x00\x00\x00\x01\xff\xff")
    [verdict] = decoded(gate_app, codec, topics.VERDICTS)
    assert (verdict["id"], verdict["decision"], verdict["reason"]) == (
        "m1",
        "deny",
        "INVALID_INTENT",
    )
    letters = decoded(gate_app, codec, topics.DEAD_LETTERS)
    assert len(letters) == 2
    assert letters[0]["record_id"] == "m1" and letters[0]["error_class"] == "invalid_record"
    assert letters[1]["record_id"] is None
    [violation] = decoded(gate_app, codec, topics.VIOLATIONS)
    assert violation["rule"] == "INVALID_INTENT"


async def test_a_flood_of_bad_intents_is_kept_whole_but_logged_within_a_budget(
    gate_app: WorkerApp, codec: WireCodec, caplog: pytest.LogCaptureFixture
):
    """Every bad record is dead-lettered and counted; the log shows the first of a window and
    then how many it left out (runtime/log_budget.py), not one line each."""
    flood = DEAD_LETTER_LOG_BURST + 7
    with caplog.at_level(logging.WARNING, logger="streams.runtime.gate"):
        for n in range(flood):
            await put(gate_app, codec, "intent", topics.INTENTS, b"\x00\x00\x00\x00\x01\xff%d" % n)
        gate_app.gate._dead_letter_log._opened -= DEAD_LETTER_LOG_WINDOW_S  # the next window
        await put(gate_app, codec, "intent", topics.INTENTS, b"\x00\x00\x00\x00\x01\xff")
    letters = decoded(gate_app, codec, topics.DEAD_LETTERS)
    assert len(letters) == flood + 1
    [error_class] = {letter["error_class"] for letter in letters}
    assert counted(gate_app, "consentgate_dead_letters_total", source_topic="send-intents",
                   error_class=error_class) == flood + 1  # fmt: skip
    lines = [r.getMessage() for r in caplog.records]
    assert sum(line.startswith("dead letter from") for line in lines) == DEAD_LETTER_LOG_BURST + 1
    assert [line for line in lines if "were not logged" in line] == [
        f"7 more dead letters were not logged (over {DEAD_LETTER_LOG_BURST} a window; each is "
        "counted in consentgate_dead_letters_total and kept on the dead-letters topic)"
    ]


async def test_misrouted_record_is_rerouted_not_decided(gate_app: WorkerApp, codec: WireCodec):
    await put(
        gate_app,
        codec,
        "intent",
        topics.INTENTS,
        intent(address="+1 (415) 555-0101"),
        key=b"+1 (415) 555-0101",
    )
    assert sent(gate_app).of(topics.VERDICTS) == []
    [(key, _value)] = sent(gate_app).of(topics.INTENTS)
    assert key == PHONE.encode()


async def test_reprocessed_intent_repeats_its_first_verdict(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    await put(gate_app, codec, "intent", topics.INTENTS, intent())
    # An opt-out produced after the intent was decided; then the intent is redelivered.
    await put(gate_app, codec, "optout", topics.OPTOUT, optout())
    await put(gate_app, codec, "intent", topics.INTENTS, intent())
    verdicts = decoded(gate_app, codec, topics.VERDICTS)
    assert [(v["decision"], v["reason"]) for v in verdicts] == [("allow", "CONSENT_VALID")] * 2
    assert verdicts[0]["decided_at"] == verdicts[1]["decided_at"]
    # A new intent does see the opt-out.
    await put(gate_app, codec, "intent", topics.INTENTS, intent(id="m9"))
    assert decoded(gate_app, codec, topics.VERDICTS)[-1]["reason"] == "OPTED_OUT"


async def test_intent_whose_state_is_not_current_is_denied(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "consent", topics.CONSENT, consent())
    gate_app.ordering = FixedHold(caught_up=False)  # type: ignore[assignment]
    await put(gate_app, codec, "intent", topics.INTENTS, intent())
    [verdict] = decoded(gate_app, codec, topics.VERDICTS)
    assert (verdict["decision"], verdict["reason"]) == ("deny", "STATE_NOT_CURRENT")
    assert counted(gate_app, "consentgate_ordering_timeouts_total") == 1


async def test_intent_agent_holds_on_its_co_partitions(gate_app: WorkerApp, codec: WireCodec):
    await put(gate_app, codec, "intent", topics.INTENTS, intent())
    hold = gate_app.ordering
    assert isinstance(hold, FixedHold)
    assert ("consent-events", 0) in hold.calls[0] and ("optout-events", 0) in hold.calls[0]
    assert ("partner-agreements", 0) in hold.calls[0]


async def test_oversized_record_is_dead_lettered_with_its_head(
    gate_app: WorkerApp, codec: WireCodec
):
    huge = b"\x00\x00\x00\x00\x01" + b"x" * (2 * 1024 * 1024)
    await put(gate_app, codec, "optout", topics.OPTOUT, huge)
    [letter] = decoded(gate_app, codec, topics.DEAD_LETTERS)
    assert letter["error_class"] == "too_large"
    assert letter["value"] == huge[: len(letter["value"])] and len(letter["value"]) < len(huge)
    assert "truncated" in letter["error"]
    await put(gate_app, codec, "optout", topics.OPTOUT, optout())  # the agent still runs
    assert counted(gate_app, "consentgate_optouts_total", channel="sms", method="sms_keyword") == 1


async def test_a_registry_outage_holds_records_until_it_answers(
    gate_app: WorkerApp, codec: WireCodec
):
    """Issue 13: no opt-out lost to an outage: the batch waits (the loop keeps running) and is
    applied once the registry answers; nothing is dead-lettered for it."""
    import asyncio

    from streams.serdes import RegistryUnavailableError

    failures = 2
    real_preload = codec.preload

    def flaky(spec: Any, values: Any) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RegistryUnavailableError("registry down")
        real_preload(spec, values)

    codec.preload = flaky  # type: ignore[method-assign]
    value = codec.encode(topics.OPTOUT, wire_record(optout()))
    async with gate_app.agents["optout"].test_context() as context:
        await context.put(key=PHONE.encode(), value=value)
        for _ in range(100):  # the agent waits 0.2 s, then 0.4 s, without blocking this loop
            if counted(gate_app, "consentgate_optouts_total", channel="sms", method="sms_keyword"):
                break
            await asyncio.sleep(0.05)
    assert failures == 0
    assert counted(gate_app, "consentgate_optouts_total", channel="sms", method="sms_keyword") == 1
    assert counted(gate_app, "consentgate_registry_waits_total", topic="optout-events") == 2
    assert decoded(gate_app, codec, topics.DEAD_LETTERS) == []


async def test_the_consumer_is_guarded_from_its_creation_before_any_task_runs(
    tmp_path: Any,
) -> None:
    """faust delivers stream records during table recovery, before it starts app tasks: a
    consumer faust creates must already refuse gaps on the gate's topics, unreleased
    acknowledgements and commits past a hole."""
    from faust.types import TP

    settings = Settings().replace(
        app_id=f"agents-{uuid.uuid4().hex[:8]}", store="memory://", data_dir=tmp_path
    )
    ga = create_app(
        settings, partitions=1, partner_partitions=1, codec=mock_codec(),
        with_web_metrics=False, outputs=RecordingOutputs(),
    )  # fmt: skip
    consumer = ga.app.consumer  # created now; the app has not started
    intents = TP(topics.INTENTS.name(settings.topic_prefix), 0)
    await consumer._add_gap(intents, 433, 761)
    assert not consumer._gap.get(intents)  # refused: read again, never counted as done
    message = type("Message", (), {"acked": False, "tp": intents, "offset": 5})()
    assert consumer.ack(message) is False  # nothing is being released
    consumer.assignment = lambda: {intents}  # the consumer thread has not started
    consumer._committed_offset[intents] = 433
    consumer._acked[intents] = [434, 435]
    assert consumer._new_offset(intents) is None  # 433 itself was never acknowledged


async def test_the_worker_consumer_fetches_with_the_configured_wait_and_size(tmp_path: Any) -> None:
    settings = Settings.from_env(
        {"CONSENTGATE_FETCH_WAIT_S": "0.01", "CONSENTGATE_FETCH_MIN_BYTES": "1048576"}
    ).replace(app_id=f"agents-{uuid.uuid4().hex[:8]}", store="memory://", data_dir=tmp_path)
    ga = create_app(
        settings, partitions=1, partner_partitions=1, codec=mock_codec(),
        with_web_metrics=False, outputs=RecordingOutputs(),
    )  # fmt: skip
    thread = ga.app.consumer._thread
    consumer = thread._create_worker_consumer(ga.app.transport)
    assert (consumer._fetch_max_wait_ms, consumer._fetch_min_bytes) == (10, 1_048_576)
    defaults = Settings()
    assert (defaults.fetch_wait.total_seconds(), defaults.fetch_min_bytes) == (0.05, 1)
