"""Crashes and lost disks.

- `kill -9` in the middle of 20k intents, with opt-outs arriving meanwhile: after a restart every
  intent has a verdict, no two verdicts for one intent disagree, and no state change was lost.
- A worker whose local store is deleted rebuilds it from the changelog and decides as before.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import defaultdict

from streams import topics
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

RECIPIENTS = 2_000
INTENTS = 20_000


PEOPLE = SmsRecipients(4_000_000)


def test_kill_minus_nine_loses_and_contradicts_nothing(kafka_stack, unique_name, tmp_path):
    gate = RunningGate.start(gate_settings(kafka_stack, unique_name("crash"), tmp_path), tmp_path)
    verdicts = gate.reader(topics.VERDICTS)
    try:
        gate.producer.publish_all((PEOPLE.consent(n) for n in range(RECIPIENTS)), wait_each=False)
        opted_out = set(range(0, RECIPIENTS, 7))

        def produce() -> None:
            for i in range(INTENTS):
                gate.producer.publish(PEOPLE.intent(f"m{i}", i % RECIPIENTS), wait=False)
                if i % 50 == 0 and (i // 50) * 7 < RECIPIENTS:  # opt-outs arrive meanwhile
                    gate.producer.publish(PEOPLE.optout((i // 50) * 7), wait=False)
            gate.producer.flush()

        producing = threading.Thread(target=produce)
        producing.start()
        verdicts.wait_for_count(INTENTS // 4, timeout=120)
        gate.worker.kill()
        killed_after = len(verdicts.records)
        producing.join(120)
        gate.worker.start()

        verdicts.wait_for_ids([f"m{i}" for i in range(INTENTS)], timeout=240)
        verdicts.poll(2.0)
        seen: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for record in verdicts.records:
            seen[record["id"]].add((record["decision"], record["reason"]))
        contradicting = {k: v for k, v in seen.items() if len(v) > 1}
        assert contradicting == {}, f"{len(contradicting)} intents with disagreeing verdicts"
        assert len(seen) == INTENTS
        duplicates = len(verdicts.records) - INTENTS
        print(f"\nkilled after {killed_after} verdicts; {duplicates} exact duplicates re-sent")

        # No state change lost: every opt-out, applied before or after the crash, now denies.
        probes = [PEOPLE.intent(f"m{100_000 + n}", n) for n in range(RECIPIENTS)]
        gate.producer.publish_all(probes, wait_each=False)
        verdicts.wait_for_ids([p["id"] for p in probes], timeout=120)
        decided = {r["id"]: r for r in verdicts.records}
        for n in range(RECIPIENTS):
            want = ("deny", "OPTED_OUT") if n in opted_out else ("allow", "CONSENT_VALID")
            got = decided[f"m{100_000 + n}"]
            assert (got["decision"], got["reason"]) == want, n
    finally:
        verdicts.close()
        gate.stop()


def test_lost_local_store_is_rebuilt_from_the_changelog(kafka_stack, unique_name, tmp_path):
    settings = gate_settings(kafka_stack, unique_name("recover"), tmp_path)
    gate = RunningGate.start(settings, tmp_path)
    verdicts = gate.reader(topics.VERDICTS)
    try:
        gate.producer.publish_all((PEOPLE.consent(n) for n in range(RECIPIENTS)), wait_each=False)
        gate.producer.publish_all(
            (PEOPLE.optout(n) for n in range(0, RECIPIENTS, 3)), wait_each=False
        )
        first = [PEOPLE.intent(f"m{n}", n) for n in range(RECIPIENTS)]
        gate.producer.publish_all(first, wait_each=False)
        verdicts.wait_for_ids([r["id"] for r in first], timeout=120)
        before = {r["id"]: (r["decision"], r["reason"]) for r in verdicts.records}
        assert {v[1] for v in before.values()} == {"OPTED_OUT", "CONSENT_VALID"}

        assert gate.worker.stop() == 0
        shutil.rmtree(settings.data_dir)
        started = time.monotonic()
        gate.worker.start()
        print(
            f"\nrebuilt {RECIPIENTS} recipients from the changelog; ready after "
            f"{time.monotonic() - started:.1f}s"
        )

        again = [PEOPLE.intent(f"m{50_000 + n}", n) for n in range(RECIPIENTS)]
        gate.producer.publish_all(again, wait_each=False)
        verdicts.wait_for_ids([r["id"] for r in again], timeout=120)
        after = {r["id"]: (r["decision"], r["reason"]) for r in verdicts.records}
        mismatched = [n for n in range(RECIPIENTS) if before[f"m{n}"] != after[f"m{50_000 + n}"]]
        assert mismatched == []
    finally:
        verdicts.close()
        gate.stop()
