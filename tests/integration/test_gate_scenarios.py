"""End to end: every public scenario, produced to Kafka, gets from the running worker exactly the
verdicts `consentgate replay` gives.

Each record is produced and acknowledged before the next; after an intent the test also waits for
its verdict before producing what follows, so that records the file puts *after* an intent cannot
be applied before it is decided (Kafka would allow that: it promises a lower bound, not a snapshot).
"""

from __future__ import annotations

from typing import Any

import pytest

from streams import topics
from streams.policy.records import Verdict
from streams.policy.replay import replay_objects
from tests.data import SCENARIO_SETS, read_jsonl, scenario_files
from tests.gatekit import RunningGate, gate_settings


@pytest.mark.parametrize("scenario_set", SCENARIO_SETS)
def test_scenarios_through_kafka_match_replay(scenario_set, kafka_stack, unique_name, tmp_path):
    files = scenario_files(scenario_set)
    assert files, f"no scenario files in the {scenario_set} set"
    gate = RunningGate.start(gate_settings(kafka_stack, unique_name("scn"), tmp_path), tmp_path)
    verdicts = gate.reader(topics.VERDICTS)
    try:
        compared = 0
        for path in files:
            records = read_jsonl(path)
            expected = [v for v in replay_objects(records) if isinstance(v, Verdict)]
            got: list[dict[str, Any]] = []
            for record in records:
                gate.producer.publish(record, wait=True)
                if record.get("type") == "intent":
                    before = len(verdicts.records)
                    verdicts.wait_for_count(before + 1, timeout=60)
                    got.append(verdicts.records[before])
            assert [v["id"] for v in got] == [v.id for v in expected], path.name
            for want, have in zip(expected, got, strict=True):
                assert (have["decision"], have["reason"], list(have["reasons"])) == (
                    want.decision,
                    want.reason,
                    list(want.reasons),
                ), f"{path.name} {want.id}"
                compared += 1
        intents = [r for path in files for r in read_jsonl(path) if r.get("type") == "intent"]
        assert compared == len(intents)
        assert gate.worker.alive()
    finally:
        verdicts.close()
        gate.stop()
