"""Two workers share the partitions; one is killed with SIGKILL in mid-stream (issue 13, point 3).

The survivor takes the killed worker's partitions over and rebuilds their state: every intent
produced gets a verdict, no intent gets two different ones, and no intent sent after its
recipient's opt-out was acknowledged is allowed. Final probes check that every opt-out, on
either worker's partitions, survived the handover.

Handover time is from the kill to the first verdict for a partition the killed worker owned,
with standby replicas 0 and 1. A killed member is noticed only when its session times out:
the default is 60 s (CONSENTGATE_SESSION_TIMEOUT_S); the test sets 10 s to keep CI time short,
so production's default adds ~50 s to the figure.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from streams import topics
from streams.devtools.ports import free_port
from streams.devtools.runner import WorkerProcess
from tests.builders import partner
from tests.gatekit import RunningGate, SmsRecipients, gate_settings
from tests.integration.faultkit import (
    IntentStream,
    TimedVerdicts,
    assigned_partitions,
    check_stream,
    explain_lost,
    first_after,
    report,
)

RECIPIENTS = 700
RATE = 150.0  # intents/s, with an opt-out every 20
SESSION_TIMEOUT_S = 10


@pytest.mark.parametrize("standby", [0, 1])
def test_survivor_takes_over_a_killed_worker(kafka_stack, unique_name, tmp_path, standby):
    people = SmsRecipients(6_300_000 + 10_000 * standby)
    settings = gate_settings(
        kafka_stack,
        unique_name("handover"),
        tmp_path,
        partitions=4,
        standby_replicas=standby,
        data_dir=tmp_path / "a" / "data",
        session_timeout=timedelta(seconds=SESSION_TIMEOUT_S),
    )
    gate = RunningGate.start(settings, tmp_path / "a")
    victim = WorkerProcess(
        settings.replace(data_dir=tmp_path / "b" / "data", web_port=free_port()),
        tmp_path / "b" / "worker.log",
    )
    verdicts = TimedVerdicts(settings, gate.codec)
    stream = IntentStream(gate.producer, people, RECIPIENTS, RATE, optout_every=20)
    try:
        # A partner agreement: every intent's hold then waits for the partner partitions too,
        # which a rebalance once made the survivor forget (STATE_NOT_CURRENT for everything).
        gate.producer.publish(partner())
        gate.producer.publish_all((people.consent(n) for n in range(RECIPIENTS)), wait_each=False)
        stream.start()
        victim.start()
        intents = topics.INTENTS.name(settings.topic_prefix)
        deadline = time.monotonic() + 90
        owned: set[int] = set()
        while time.monotonic() < deadline:  # both workers assigned, and deciding
            verdicts.poll(1.0)
            owned = assigned_partitions(victim.log_path, intents)
            survivor = assigned_partitions(gate.worker.log_path, intents)
            if owned and survivor and not owned & survivor:
                break
        assert owned, "the second worker never got a partition of send-intents"
        verdicts.poll(5.0)  # mid-stream, with both workers deciding

        killed_at = time.time()
        victim.kill()
        verdicts.poll(SESSION_TIMEOUT_S + 15.0)
        stream.stop()
        assert stream.failures == []
        verdicts.wait_for_ids(set(stream.sent_at), timeout=120)

        first = first_after(verdicts, stream, owned, killed_at)
        checks = check_stream(stream, verdicts)
        report(
            "fault_handover",
            standby_replicas=standby,
            session_timeout_s=SESSION_TIMEOUT_S,
            killed_partitions=sorted(owned),
            handover_s=round(max(first.values()), 2) if first else None,
            per_partition_s={p: round(s, 2) for p, s in sorted(first.items())},
            survivor_ready_s=round(gate.worker.ready_after_s or 0, 1),
            **checks,
        )
        # Safety, always: no intent allowed after its opt-out was acknowledged, no two verdicts,
        # and none lost: every commit is capped by what the gate released (app.py, `released`).
        assert (checks["contradicting"], checks["wrong_allow"]) == (0, 0), checks["examples"]
        assert checks["lost"] == 0, (checks["examples"], explain_lost(settings, stream, verdicts))
        liveness: list[str] = []
        if set(first) != owned:
            liveness.append(f"partitions without a verdict again: {sorted(owned - set(first))}")

        # Every acknowledged opt-out, on the survivor's partitions and the taken-over ones, holds.
        probes = {f"probe{n}": n for n in range(RECIPIENTS)}
        gate.producer.publish_all((people.intent(i, n) for i, n in probes.items()), wait_each=False)
        unanswered = verdicts.wait_for_ids(set(probes), timeout=60)
        got = {r[0]: r[1:3] for r in verdicts.records if r[0] in probes}
        allowed_after_optout = [
            n
            for i, n in probes.items()
            if n in stream.optout_acked_at and got.get(i, ("",))[0] == "allow"
        ]
        assert allowed_after_optout == []  # safety
        expected = {
            i: ("deny", "OPTED_OUT") if n in stream.optout_acked_at else ("allow", "CONSENT_VALID")
            for i, n in probes.items()
        }
        not_as_expected = sorted(i for i in probes if i not in unanswered and got[i] != expected[i])
        if unanswered or not_as_expected:
            liveness.append(
                f"probes unanswered {len(unanswered)}, denied otherwise than expected "
                f"{len(not_as_expected)} (e.g. {[got[i] for i in not_as_expected[:3]]})"
            )
        if liveness:
            # A state partition that stays behind holds intents STATE_NOT_CURRENT until it is
            # read again (holes.py): fail closed, never an allow; reported, not hidden.
            pytest.xfail("issue 13 liveness: " + "; ".join(liveness))
    finally:
        verdicts.close()
        victim.kill()
        gate.stop()
