"""`consentgate dead-letters replay` against a real worker: a dead-lettered opt-out, replayed,
is honoured; a truncated one and one from a foreign topic are refused.

The dead letters are written as the gate writes them (`Gate._dead_letter`'s fields) for an
opt-out that a registry outage kept from being decoded: the valid opt-out's bytes, its key, its
source topic and the error class `registry_unavailable`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer

from streams import topics
from streams.devtools.runner import worker_env
from streams.kafka_config import client_config
from tests import ROOT
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

PEOPLE = SmsRecipients(6_100_000)


def _dead_letter(gate: RunningGate, n: int, source_topic: str, error: str) -> dict[str, Any]:
    spec, key, value = gate.producer.encode(PEOPLE.optout(n))
    assert spec is topics.OPTOUT
    return {
        "id": f"{source_topic}:0:{n}",
        "at": datetime.now(UTC),
        "source_topic": source_topic,
        "source_partition": 0,
        "source_offset": n,
        "source_line": None,
        "key": key.encode(),
        "value": value,
        "error": error,
        "error_class": "registry_unavailable",
        "record_id": f"o{n}",
    }


def _replay(gate: RunningGate, *options: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "streams", "dead-letters", "replay", "--json", *options],
        env=worker_env(gate.settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def test_a_replayed_opt_out_is_honoured_and_refused_ones_are_not(
    kafka_stack, unique_name, tmp_path
):
    gate = RunningGate.start(gate_settings(kafka_stack, unique_name("redrive"), tmp_path), tmp_path)
    verdicts = gate.reader(topics.VERDICTS)
    prefix = gate.settings.topic_prefix
    try:
        gate.producer.publish_all([PEOPLE.consent(n) for n in range(3)])
        gate.producer.publish_all([PEOPLE.intent(f"before{n}", n) for n in range(3)])
        verdicts.wait_for_ids([f"before{n}" for n in range(3)])
        assert {r["decision"] for r in verdicts.records} == {"allow"}

        optouts = topics.OPTOUT.name(prefix)
        letters = [
            _dead_letter(gate, 0, optouts, "RegistryUnavailableError: connection refused"),
            _dead_letter(
                gate, 1, optouts, "RegistryUnavailableError: x (value truncated from 300000 bytes)"
            ),
            _dead_letter(gate, 2, topics.VERDICTS.name(prefix), "RegistryUnavailableError: x"),
        ]
        dead = Producer(client_config(gate.settings))
        for letter in letters:
            dead.produce(
                topics.DEAD_LETTERS.name(prefix),
                key=letter["key"],
                value=gate.codec.encode(topics.DEAD_LETTERS, letter),
            )
        assert dead.flush(30) == 0

        dry = _replay(gate, "--dry-run", "--error-class", "registry_unavailable")
        assert dry["dry_run"] and dry["published"] == 1
        other_class = _replay(gate, "--error-class", "avro_decode")
        assert (other_class["selected"], other_class["published"]) == (0, 0)
        summary = _replay(gate, "--error-class", "registry_unavailable")
        print("\n" + json.dumps({"dead_letter_replay": summary}))
        assert summary["read"] == 3
        assert summary["published"] == 1
        assert summary["by_topic"] == {optouts: 1}
        assert summary["skipped"] == {"foreign_topic": 1, "truncated": 1}

        gate.producer.publish_all([PEOPLE.intent(f"after{n}", n) for n in range(3)])
        verdicts.wait_for_ids([f"after{n}" for n in range(3)])
        after = {r["id"]: (r["decision"], r["reason"]) for r in verdicts.records}
        assert after["after0"] == ("deny", "OPTED_OUT")  # the replayed opt-out is applied
        assert after["after1"] == ("allow", "CONSENT_VALID")  # truncated: refused
        assert after["after2"] == ("allow", "CONSENT_VALID")  # foreign topic: refused
    finally:
        verdicts.close()
        gate.stop()
