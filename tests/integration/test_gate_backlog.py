"""A backlog: every public scenario produced while no worker runs, then one or two workers start.

The contract ("As of the intent"): verdicts through Kafka equal a file replay's, except that an
opt-out acknowledged after an intent but applied before it was decided may deny it `OPTED_OUT`;
a revocation, which likewise counts once held whatever its date, may deny it
`THIRD_PARTY_NO_AGREEMENT` in the same way. With the whole backlog in the topics before any worker
starts, every later opt-out and revocation is applied first, so those differences show wherever
a file has one; any other difference, and above all any allow that replay denies, fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.producer import GateProducer
from streams import topics
from streams.devtools.ports import free_port
from streams.devtools.runner import WorkerProcess
from streams.policy.reasons import DENY_PRECEDENCE, OPTED_OUT, THIRD_PARTY_NO_AGREEMENT
from streams.policy.records import Verdict
from streams.policy.replay import replay_objects
from streams.runtime.admin import ensure_topics
from streams.serdes import codec_for
from tests.data import SCENARIO_SETS, read_jsonl, scenario_files
from tests.gatekit import OutputReader, gate_settings


def _renamed(records: list[dict[str, Any]], stem: str) -> list[dict[str, Any]]:
    """Ids made unique across files (files reuse ids like m1; their addresses differ)."""
    return [{**r, "id": f"{stem}:{r['id']}"} if "id" in r else r for r in records]


def _backlog() -> tuple[list[dict[str, Any]], dict[str, Verdict]]:
    records: list[dict[str, Any]] = []
    expected: dict[str, Verdict] = {}
    for scenario_set in SCENARIO_SETS:
        for path in scenario_files(scenario_set):
            renamed = _renamed(read_jsonl(path), path.name.split(".")[0])
            records += renamed
            for verdict in replay_objects(renamed):
                if isinstance(verdict, Verdict):
                    expected[verdict.id] = verdict
    return records, expected


EARLY_DENIALS = (OPTED_OUT, THIRD_PARTY_NO_AGREEMENT)


def _stricter(replayed: Verdict, got: dict[str, Any]) -> bool:
    """The difference allowed: an opt-out or revocation applied early denies the intent."""
    if got["decision"] != "deny" or got["reason"] not in EARLY_DENIALS:
        return False
    if replayed.decision == "allow":
        return True
    return DENY_PRECEDENCE.index(got["reason"]) < DENY_PRECEDENCE.index(replayed.reason)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_backlog_is_decided_as_replay_decides_it(
    workers: int, kafka_stack: Any, unique_name: Any, tmp_path: Path
) -> None:
    settings = gate_settings(kafka_stack, unique_name(f"backlog{workers}"), tmp_path)
    ensure_topics(settings)
    codec = codec_for(settings, register=True)
    producer = GateProducer(
        settings.kafka_bootstrap_servers, codec, topic_prefix=settings.topic_prefix
    )
    records, expected = _backlog()
    assert len(expected) >= 59, "all three scenario sets"
    producer.publish_all(records, wait_each=True)  # acknowledged in file order, no worker yet

    started: list[WorkerProcess] = []
    verdicts = OutputReader(settings, codec, topics.VERDICTS)
    try:
        for n in range(workers):
            worker = WorkerProcess(
                settings.replace(data_dir=tmp_path / f"data-{n}", web_port=free_port()),
                tmp_path / f"worker-{n}.log",
            )
            started.append(worker)
            worker.start()
        verdicts.wait_for_ids(expected, timeout=120)
        got = {record["id"]: record for record in verdicts.records}
        stricter, allowed_more, other = [], [], []
        for intent_id, replayed in expected.items():
            have = got[intent_id]
            if (have["decision"], have["reason"]) == (replayed.decision, replayed.reason):
                continue
            if have["decision"] == "allow":
                allowed_more.append((intent_id, replayed.reason, have["reason"]))
            elif _stricter(replayed, have):
                stricter.append(intent_id)
            else:
                other.append((intent_id, replayed.reason, have["reason"]))
        assert allowed_more == [], "allowed what replay denies"
        assert other == [], "differences other than the contract's stricter ones"
        assert stricter, "the backlog has later opt-outs and revocations: some intent sees one"
        assert all(worker.alive() for worker in started)
    finally:
        verdicts.close()
        for worker in started:
            worker.stop()
