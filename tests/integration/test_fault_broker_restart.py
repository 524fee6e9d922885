"""The broker stops (SIGTERM: controlled shutdown; SIGKILL: a crash) and starts again on the same
log directories while intents stream in (issue 13, point 3).

The worker reconnects by itself: it stays up, every intent gets a verdict, none contradicts
another, and none sent after its recipient's opt-out was acknowledged is allowed. The gap is the
longest time between two verdicts around the restart; it includes the time the broker is down.

The broker is this module's own embedded stack (free ports, its own state directory): the shared
test stack is never stopped.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from streams.devtools.localstack import LocalStack
from streams.devtools.localstack.process import is_alive
from streams.devtools.localstack.stack import KAFKA
from streams.devtools.ports import free_port
from streams.settings import Settings
from tests.gatekit import RunningGate, SmsRecipients, gate_settings
from tests.integration.faultkit import (
    IntentStream,
    StackHandle,
    TimedVerdicts,
    check_stream,
    longest_gap,
    report,
)

RECIPIENTS = 500
RATE = 100.0


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory, jar_cache: Path):
    settings = Settings().replace(
        state_dir=tmp_path_factory.mktemp("broker-restart") / "stack",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        registry_port=free_port(),
    )
    stack = LocalStack(settings, cache_dir=jar_cache)
    try:
        endpoints = stack.up()
        yield stack, StackHandle(endpoints.bootstrap_servers, endpoints.schema_registry_url)
    finally:
        stack.down()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_worker_rides_out_a_broker_restart(own_stack, unique_name, tmp_path, how):
    stack, handle = own_stack
    people = SmsRecipients(6_400_000 + 10_000 * int(how))
    gate = RunningGate.start(gate_settings(handle, unique_name("bounce"), tmp_path), tmp_path)
    verdicts = TimedVerdicts(gate.settings, gate.codec)
    stream = IntentStream(gate.producer, people, RECIPIENTS, RATE, optout_every=25)
    try:
        gate.producer.publish_all((people.consent(n) for n in range(RECIPIENTS)), wait_each=False)
        stream.start()
        verdicts.poll(8.0)
        assert verdicts.records, "no verdict before the restart"

        pid = stack.running_pid(KAFKA)
        assert pid is not None
        stopped_at = time.time()
        os.kill(pid, how)
        deadline = time.monotonic() + 60
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not is_alive(pid), "the broker did not stop"
        down_s = time.time() - stopped_at
        stack.up()  # starts only Kafka, on the same state dir, log dirs and ports
        up_at = time.time()

        verdicts.poll(20.0)  # the stream goes on after the restart
        stream.stop()
        assert stream.failures == []
        verdicts.wait_for_ids(set(stream.sent_at), timeout=180)
        stamps = [r[3] for r in verdicts.records]
        after = [s - up_at for s in stamps if s > up_at]
        checks = check_stream(stream, verdicts)
        report(
            "fault_broker_restart",
            signal=signal.Signals(how).name,
            broker_stop_s=round(down_s, 2),
            broker_down_to_up_s=round(up_at - stopped_at, 2),
            verdict_gap_s=round(longest_gap(stamps, stopped_at - 5, up_at + 20), 2),
            first_verdict_after_up_s=round(min(after), 2) if after else None,
            worker_alive=gate.worker.alive(),
            **checks,
        )
        assert gate.worker.alive(), gate.worker.log_tail()
        assert (checks["lost"], checks["contradicting"], checks["wrong_allow"]) == (0, 0, 0), (
            checks["examples"]
        )
    finally:
        verdicts.close()
        gate.stop()
